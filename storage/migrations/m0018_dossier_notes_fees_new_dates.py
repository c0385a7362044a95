"""What the one-stop system tells the applicant, and a new appointment date (issue 15):

- `note` (`ghi_chu`): the system's note to the applicant, such as what to supplement; shown to the citizen;
- `fee` (`le_phi`): an amount in đồng to pay (status 6); shown to the citizen;
- `new_due_at` (`ngay_hen_tra_moi`): a new appointment date given with an apology letter. DESIGN.md's rule judges a
  dossier against it when there is one: the effective appointment date is `coalesce(new_due_at, due_at)`, and the
  partial index of open dossiers is on that expression (the digest's overdue query uses the same one).
"""

SQL = """
ALTER TABLE dossiers ADD COLUMN note TEXT;
ALTER TABLE dossiers ADD COLUMN fee INTEGER;
ALTER TABLE dossiers ADD COLUMN new_due_at TEXT;
DROP INDEX dossiers_open_due;
CREATE INDEX dossiers_open_due ON dossiers (coalesce(new_due_at, due_at)) WHERE done_at IS NULL;
"""
