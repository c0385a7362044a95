"""What the leaders' digest needs.

- `dossiers.done_at`: when a dossier first reached a terminal status by DESIGN.md's rule (9, else 10, else 8 or 3;
  from its history and its finished/returned times), NULL while its status is not terminal. The lookup computes
  the same from the history (`bot.dossiers.terminal_time`); the digest counts with this column and its indexes.
- `digest_settings`: a leader's own digest time, or a pause.
- `digests`: one row per (person, kind, day) a digest was queued for: the guard against a second one.
- `digest_charts`: the chart of a digest (kind, day, language), made once and sent to every leader.
- `outbox.thread`: messages that must arrive in order (the parts of one digest) share a thread.
- `people.unreachable_at`: when Telegram said the person blocked the bot (403).
"""

SQL = """
ALTER TABLE dossiers ADD COLUMN done_at TEXT;
UPDATE dossiers SET done_at = coalesce(
    (SELECT min(t) FROM (SELECT at AS t FROM dossier_history WHERE dossier_id = dossiers.id AND status = 9
                         UNION ALL SELECT dossiers.finished_at)),
    (SELECT min(t) FROM (SELECT at AS t FROM dossier_history WHERE dossier_id = dossiers.id AND status = 10
                         UNION ALL SELECT dossiers.returned_at)),
    (SELECT min(at) FROM dossier_history WHERE dossier_id = dossiers.id AND status IN (3, 8))
) WHERE status IN (3, 8, 9, 10);
CREATE INDEX dossiers_done ON dossiers (done_at) WHERE done_at IS NOT NULL;
CREATE INDEX dossiers_open_due ON dossiers (due_at) WHERE done_at IS NULL;

ALTER TABLE people ADD COLUMN unreachable_at TEXT;
ALTER TABLE outbox ADD COLUMN thread TEXT;

CREATE TABLE digest_settings (
    person_id INTEGER PRIMARY KEY REFERENCES people (id) ON DELETE CASCADE,
    paused INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    at TEXT CHECK (at IS NULL OR at GLOB '[0-2][0-9]:[0-5][0-9]'),
    updated_at TEXT NOT NULL
);

CREATE TABLE digests (
    person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('daily', 'weekly')),
    day TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (person_id, kind, day)
);

CREATE TABLE digest_charts (
    kind TEXT NOT NULL,
    day TEXT NOT NULL,
    language TEXT NOT NULL,
    png BLOB NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (kind, day, language)
);
"""
