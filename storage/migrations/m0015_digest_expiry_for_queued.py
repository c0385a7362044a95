"""Digest parts queued before m0010 had no `expires_at`, and one was sent three days late after an upgrade: they
expire at the end of their day like the rest (midnight in Vietnam's time, UTC+7, the day read from the dedupe key
`digest:KIND:DAY:PERSON:N`)."""

SQL = """
UPDATE outbox
SET expires_at = datetime(substr(dedupe_key, instr(substr(dedupe_key, 8), ':') + 8, 10), '+17 hours')
WHERE expires_at IS NULL AND sent_at IS NULL AND failed_at IS NULL
  AND kind IN ('digest_text', 'digest_chart') AND dedupe_key LIKE 'digest:%';
"""
