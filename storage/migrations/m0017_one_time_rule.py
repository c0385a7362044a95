"""DESIGN.md's one rule for time: `done_at` is when a finished dossier (8, 9, 10) finished — `ngay_ket_thuc`, else the
first time it had one of those statuses — and NULL for every other status. Before, a dossier not received (3) had
one too, and one withdrawn (7) had none, so the digest counted it overdue; the digest's queries now also ask for the
status. Every stored dossier gets its `done_at` again by the rule (the same expression as
`storage.dossiers.DONE_AT`, copied: a migration never changes).

Status 11 (Khác) is accepted: the CHECK of `dossiers.status` and `dossier_history.status` widens from 1–10 to
1–11. SQLite cannot alter a constraint; widening one changes nothing stored, so the table definitions are edited
in place as SQLite's documentation describes for such changes (`writable_schema`; `Database.migrate` then bumps
`schema_version` so that every connection reads the new definitions)."""

SQL = """
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql, 'CHECK (status BETWEEN 1 AND 10)', 'CHECK (status BETWEEN 1 AND 11)')
WHERE type = 'table' AND name IN ('dossiers', 'dossier_history');
PRAGMA writable_schema = OFF;
UPDATE dossiers SET done_at = CASE WHEN dossiers.status IN (8, 9, 10) THEN coalesce(dossiers.finished_at,
    (SELECT min(t) FROM (SELECT at AS t FROM dossier_history WHERE dossier_id = dossiers.id
     AND status IN (8, 9, 10) UNION ALL SELECT dossiers.returned_at))) END
WHERE status IN (3, 8, 9, 10) OR done_at IS NOT NULL;
"""
