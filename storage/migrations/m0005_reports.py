"""Facility problem reports of the communes, their photos, and every event in their life (created, moved with a
note, added to, reopened)."""

SQL = """
CREATE TABLE reports (
    id INTEGER PRIMARY KEY,
    commune_code TEXT NOT NULL REFERENCES communes (code),
    category TEXT NOT NULL CHECK (
        category IN ('rooms', 'equipment', 'utilities', 'kitchen', 'premises', 'it', 'staffing', 'other')
    ),
    severity TEXT NOT NULL CHECK (severity IN ('blocking', 'high', 'medium', 'low')),
    description TEXT NOT NULL,
    lat REAL,
    lon REAL,
    state TEXT NOT NULL DEFAULT 'new' CHECK (
        state IN ('new', 'received', 'in_progress', 'fixed', 'cannot_fix', 'duplicate')
    ),
    reported_by INTEGER NOT NULL REFERENCES people (id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    target_at TEXT NOT NULL,
    closed_at TEXT
);
CREATE INDEX reports_open ON reports (commune_code, category) WHERE state IN ('new', 'received', 'in_progress');
CREATE INDEX reports_created ON reports (created_at);

CREATE TABLE report_photos (
    report_id INTEGER NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    file_ref TEXT NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (report_id, position)
);

CREATE TABLE report_events (
    id INTEGER PRIMARY KEY,
    report_id INTEGER NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    person_id INTEGER REFERENCES people (id),
    kind TEXT NOT NULL CHECK (kind IN ('created', 'moved', 'added', 'reopened')),
    state TEXT NOT NULL,
    note TEXT
);
CREATE INDEX report_events_report ON report_events (report_id, id);
"""
