"""Citizens' satisfaction with a returned dossier (Decision 766/QĐ-TTg): one rating per person and dossier, kept
with the commune and the procedure; the rater's identity never leaves the database."""

SQL = """
CREATE TABLE ratings (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id),
    dossier_id INTEGER NOT NULL REFERENCES dossiers(id),
    commune_code TEXT NOT NULL,
    procedure_name TEXT NOT NULL,
    score INTEGER NOT NULL CHECK (score IN (1, 2, 3)),
    reasons TEXT NOT NULL DEFAULT '',
    comment TEXT NOT NULL DEFAULT '',
    rated_at TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    UNIQUE (person_id, dossier_id)
);
CREATE INDEX ratings_commune ON ratings (commune_code, rated_at);
"""
