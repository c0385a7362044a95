"""Roles of people (official of one commune, provincial leader), one-time invites that grant them, and an audit
of every change. Admins come from the settings, not from here."""

SQL = """
CREATE TABLE invites (
    id INTEGER PRIMARY KEY,
    code_hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('official', 'leader')),
    commune_code TEXT REFERENCES communes (code),
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    used_by INTEGER REFERENCES people (id),
    revoked_at TEXT,
    CHECK ((role = 'official') = (commune_code IS NOT NULL))
);

CREATE TABLE roles (
    person_id INTEGER PRIMARY KEY REFERENCES people (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('official', 'leader')),
    commune_code TEXT REFERENCES communes (code),
    granted_at TEXT NOT NULL,
    invite_id INTEGER REFERENCES invites (id),
    CHECK ((role = 'official') = (commune_code IS NOT NULL))
);
CREATE INDEX roles_commune ON roles (commune_code) WHERE commune_code IS NOT NULL;

CREATE TABLE role_audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('invite', 'grant', 'revoke', 'revoke_invite')),
    person_id INTEGER REFERENCES people (id),
    role TEXT,
    commune_code TEXT,
    invite_id INTEGER REFERENCES invites (id)
);
"""
