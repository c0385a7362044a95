"""Zalo Notification Service (issue 16): a message to the applicant's phone at each status change they should know
about, without their having found the bot.

- `dossiers.phone` (`so_dien_thoai`, in the `84…` form): personal data (Decree 13/2023), stored only for these
  messages, never shown or exported, and set back to NULL 30 days after the dossier's result was returned (or it was
  not received, withdrawn or stopped); the partial index finds the ones to erase;
- `zns_tokens`: the Official Account's access token and the refresh token Zalo rotates at every use, kept current
  here (one row); `seed_hash` is the SHA-256 of the `ZALO_ZNS_REFRESH_TOKEN` the chain started from, so a new one
  set by an admin replaces the stored chain, and the same one set again does not; `refreshing_until` is the lease
  of the process refreshing (a refresh token is spent at its first use: two processes must not both use it);
- `outbox_person`: a person's messages (a dossier's ZNS messages are not queued twice; a person's are given up
  together when they block the bot); `outbox_unsettled`: the backlog `/metrics` reports, without reading the
  messages long settled.
"""

SQL = """
ALTER TABLE dossiers ADD COLUMN phone TEXT;
CREATE INDEX dossiers_with_phone ON dossiers (id) WHERE phone IS NOT NULL;
CREATE INDEX outbox_person ON outbox (person_id);
CREATE INDEX outbox_unsettled ON outbox (person_id, created_at) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE TABLE zns_tokens (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seed_hash TEXT NOT NULL,
    refresh_token TEXT NOT NULL,
    access_token TEXT,
    expires_at TEXT,
    refreshing_until TEXT,
    updated_at TEXT NOT NULL
);
"""
