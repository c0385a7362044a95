"""The index on dossiers' received time alone: no query uses it, and it cost the import a third of its writing
time (bench/README.md). Questions by date go through `dossiers_commune_received`."""

SQL = """
DROP INDEX IF EXISTS dossiers_received;
"""
