"""A province's digest on a national database (issue 17's benchmark: 3,321 units, 10,000,000 dossiers).

- `dossiers_open_commune`, `dossiers_closed_commune`: a province's unfinished dossiers, and those withdrawn or not
  received, read by commune (`storage.digest`), instead of every unfinished or closed dossier of the database.
- PostgreSQL only: `json_values(list)`, the texts of a JSON list, for the repositories' `json_each(?)` (`storage.
  dialect`). PostgreSQL plans `json_array_elements_text` as giving 100 rows: with the 3,321 units of a national
  database it chose, for the digest's overdue procedures, a loop over every code with a scan of all overdue
  dossiers in each (44 s). Declared as giving 1,000, the list is hashed instead. A SQL function of one SELECT is
  inlined (its estimate lost) unless it is VOLATILE, as this one is.
"""

SQL = """
CREATE INDEX dossiers_open_commune ON dossiers (commune_code) WHERE done_at IS NULL;
CREATE INDEX dossiers_closed_commune ON dossiers (commune_code) WHERE status IN (3, 7);
"""

POSTGRES = (
    SQL
    + """
CREATE FUNCTION json_values(list json) RETURNS SETOF text LANGUAGE sql VOLATILE ROWS 1000
AS $$ SELECT json_array_elements_text(list) $$;
"""
)
