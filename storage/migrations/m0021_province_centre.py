"""The province's own public administrative service centre (Trung tâm Phục vụ hành chính công tỉnh): what a
commune's card and a dossier's next step point to while the commune has not given its centre's address and
phone. Filled by `phucvu import-centres` (a row whose `ma_xa` is the province's code or `tinh`)."""

SQL = """
CREATE TABLE province_centres (
    province_code INTEGER PRIMARY KEY REFERENCES provinces (code),
    address TEXT,
    phone TEXT,
    opening_hours TEXT,
    note TEXT,
    lat REAL,
    lon REAL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL
);
"""
