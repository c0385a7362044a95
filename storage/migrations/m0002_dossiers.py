"""Dossiers with their status history, follows, and the outbox of messages sent out of band."""

SQL = """
CREATE TABLE dossiers (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL,
    code_key TEXT NOT NULL UNIQUE,
    procedure_code TEXT,
    procedure_name TEXT NOT NULL,
    commune_code TEXT NOT NULL REFERENCES communes (code),
    received_at TEXT NOT NULL,
    due_at TEXT,
    status INTEGER NOT NULL CHECK (status BETWEEN 1 AND 10),
    finished_at TEXT,
    returned_at TEXT,
    channel INTEGER CHECK (channel IS NULL OR channel IN (1, 2, 3)),
    applicant TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX dossiers_commune_received ON dossiers (commune_code, received_at);
CREATE INDEX dossiers_received ON dossiers (received_at);

CREATE TABLE dossier_history (
    id INTEGER PRIMARY KEY,
    dossier_id INTEGER NOT NULL REFERENCES dossiers (id) ON DELETE CASCADE,
    status INTEGER NOT NULL CHECK (status BETWEEN 1 AND 10),
    at TEXT NOT NULL,
    source TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE INDEX dossier_history_dossier ON dossier_history (dossier_id, id);

CREATE TABLE follows (
    person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    dossier_id INTEGER NOT NULL REFERENCES dossiers (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (person_id, dossier_id)
);
CREATE INDEX follows_dossier ON follows (dossier_id);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    dedupe_key TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    urgent INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    not_before TEXT,
    claimed_at TEXT,
    sent_at TEXT,
    failed_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX outbox_pending ON outbox (id) WHERE claimed_at IS NULL AND failed_at IS NULL;
"""
