"""The numbered menu each person was last shown on a channel without buttons (Zalo): what "1", "2", … mean for them.
Kept in the database so that a number typed after a restart still means what the person saw."""

SQL = """
CREATE TABLE text_menus (
    person_id INTEGER PRIMARY KEY REFERENCES people(id),
    options TEXT NOT NULL,
    shown_at TEXT NOT NULL
);
"""
