"""People keyed by (channel, external id); the commune registry, centre details and pre-2025 units."""

SQL = """
CREATE TABLE people (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL,
    external_id TEXT NOT NULL,
    language TEXT NOT NULL DEFAULT 'vi' CHECK (language IN ('vi', 'en')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (channel, external_id)
);

CREATE TABLE provinces (
    code INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    min_lat REAL, min_lon REAL, max_lat REAL, max_lon REAL,
    source TEXT NOT NULL,
    loaded_at TEXT NOT NULL
);

CREATE TABLE communes (
    code TEXT PRIMARY KEY CHECK (length(code) = 5),
    province_code INTEGER NOT NULL REFERENCES provinces (code),
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('xa', 'phuong', 'dac_khu')),
    name_key TEXT NOT NULL,
    lat REAL,
    lon REAL,
    area_km2 REAL
);
CREATE INDEX communes_province ON communes (province_code);

CREATE TABLE centres (
    commune_code TEXT PRIMARY KEY REFERENCES communes (code),
    address TEXT,
    phone TEXT,
    opening_hours TEXT,
    desk_staff INTEGER CHECK (desk_staff IS NULL OR desk_staff >= 0),
    note TEXT,
    lat REAL,
    lon REAL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL
);

CREATE TABLE old_units (
    id INTEGER PRIMARY KEY,
    province_code INTEGER NOT NULL REFERENCES provinces (code),
    district_name TEXT NOT NULL,
    district_key TEXT NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    lat REAL,
    lon REAL,
    UNIQUE (province_code, district_name, name)
);

CREATE TABLE old_unit_successors (
    old_unit_id INTEGER NOT NULL REFERENCES old_units (id) ON DELETE CASCADE,
    commune_code TEXT NOT NULL REFERENCES communes (code),
    is_default INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (old_unit_id, commune_code)
);
"""
