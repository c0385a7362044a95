"""Since when a person's next message is awaited: an awaited answer lapses."""

SQL = """
ALTER TABLE chat_state ADD COLUMN awaiting_at TEXT NOT NULL DEFAULT '';
"""
