"""Conversation state for every channel: the numbered menu a person was last shown (channels without buttons),
and what their next message answers (`awaiting`: a dossier code after «Tra cứu hồ sơ», a note on a report)."""

SQL = """
ALTER TABLE text_menus RENAME TO chat_state;
ALTER TABLE chat_state ADD COLUMN awaiting TEXT NOT NULL DEFAULT '';
"""
