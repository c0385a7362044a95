"""Since when a person's next message is awaited (an awaited answer lapses), and who was offered to rate a dossier
(its lookup): with its followers and those who rated it, the only people who may."""

SQL = """
ALTER TABLE chat_state ADD COLUMN awaiting_at TEXT NOT NULL DEFAULT '';

CREATE TABLE rating_offers (
    person_id INTEGER NOT NULL REFERENCES people(id),
    dossier_id INTEGER NOT NULL REFERENCES dossiers(id),
    offered_at TEXT NOT NULL,
    PRIMARY KEY (person_id, dossier_id)
);
"""
