"""Every outbox message ends sent, failed for good (with the reason), or waiting (with its next attempt time); none
stays claimed for ever.

- `lease_until`: a claim lapses then; the sweep at the start of a drain settles a lapsed claim.
- `left_at`: when the request left for the channel. A lapsed claim that never left is waiting again; one that left
  may have arrived, so it fails for good as "uncertain" and is never sent twice.
- A message of a thread waits while an earlier one is claimed too, not only while it waits: the parts of a digest
  stay in order when a lapsed claim is sent again (an index on the unsettled messages of threads).
- Claims left by earlier versions cannot tell whether they left: they fail for good as uncertain, with that reason.
"""

SQL = """
ALTER TABLE outbox ADD COLUMN lease_until TEXT;
ALTER TABLE outbox ADD COLUMN left_at TEXT;
UPDATE outbox
SET failed_at = claimed_at,
    last_error = 'uncertain: claimed before m0016 and never settled; not sent again as it may have arrived'
        || CASE WHEN last_error IS NULL THEN '' ELSE ' (' || last_error || ')' END
WHERE claimed_at IS NOT NULL AND sent_at IS NULL AND failed_at IS NULL;
DROP INDEX outbox_thread_unsent;
CREATE INDEX outbox_thread_unsettled ON outbox (thread, id)
    WHERE thread IS NOT NULL AND sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX outbox_claimed ON outbox (lease_until) WHERE claimed_at IS NOT NULL AND sent_at IS NULL
    AND failed_at IS NULL;
"""
