"""A report being written in chat, one per person, saved at every step so that a restart loses nothing."""

SQL = """
CREATE TABLE report_drafts (
    person_id INTEGER PRIMARY KEY REFERENCES people (id) ON DELETE CASCADE,
    step TEXT NOT NULL,
    data TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""
