"""The outbox asks, for each pending message of a thread, whether an earlier one of its thread is still unsent:
an index on the unsent messages of threads keeps that cheap as the outbox grows."""

SQL = """
CREATE INDEX outbox_thread_unsent ON outbox (thread, id)
    WHERE thread IS NOT NULL AND claimed_at IS NULL AND failed_at IS NULL;
"""
