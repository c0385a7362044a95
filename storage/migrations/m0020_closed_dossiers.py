"""The digest counts the dossiers withdrawn (7) or not received (3) in its period: a partial index on those rare
statuses keeps that from reading every dossier (bench/README.md)."""

SQL = """
CREATE INDEX dossiers_closed ON dossiers (status) WHERE status IN (3, 7);
"""
