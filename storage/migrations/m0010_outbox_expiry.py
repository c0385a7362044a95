"""A message that is worth nothing after a time (a digest after its day) carries `expires_at`: the outbox gives it up
instead of sending it late."""

SQL = """
ALTER TABLE outbox ADD COLUMN expires_at TEXT;
"""
