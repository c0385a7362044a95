"""A commune official's morning message about their commune's overdue dossiers: off until they turn it on
(`/hosoxa bat`); one row per official who chose."""

SQL = """
CREATE TABLE official_settings (
    person_id INTEGER PRIMARY KEY REFERENCES people (id) ON DELETE CASCADE,
    morning INTEGER NOT NULL DEFAULT 0 CHECK (morning IN (0, 1)),
    updated_at TEXT NOT NULL
);
"""
