"""The province's catalogue of administrative procedures (thủ tục hành chính), as `phucvu import-procedures` loads
it from the published list: what to bring, how long it takes, what it costs, where to submit, the link. `sample`
marks the small catalogue the console's demo data carries (never shown as the province's own)."""

SQL = """
CREATE TABLE procedures (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    field TEXT,
    papers TEXT,
    time_limit TEXT,
    fee TEXT,
    agency TEXT,
    url TEXT,
    sample INTEGER NOT NULL DEFAULT 0 CHECK (sample IN (0, 1)),
    updated_at TEXT NOT NULL
);
"""
