"""Import speed: rows per second of `phucvu import-dossiers` on a generated CSV (goal ≥ 50,000 rows/s).

Run: `.venv/bin/python -m bench.dossier_import [ROWS]`. The CSV is made from the demo generator (real procedure
names, every status, all 65 communes) and imported into a fresh database, then imported again (all unchanged).
"""

from __future__ import annotations

import asyncio
import csv
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.app import open_services
from bot.config import Settings
from bot.demo import generate
from bot.dossier_import import RowParser, import_file

NOW = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
COLUMNS = (
    "ma_ho_so",
    "ten_thu_tuc",
    "ma_xa",
    "ngay_tiep_nhan",
    "ngay_hen_tra",
    "trang_thai",
    "ngay_ket_thuc",
    "ngay_tra_ket_qua",
    "kenh_nop",
    "chu_ho_so",
)


def _sync(value: str | None) -> str:
    """Stored UTC text → the national sync format in local time (yyyyMMddHHmmss), as the one-stop system writes."""
    if not value:
        return ""
    moment = datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    return moment.astimezone(Settings().timezone).strftime("%Y%m%d%H%M%S")


async def measure(rows: int) -> dict[str, float]:
    """Write a CSV of about `rows` rows, import it twice; rows per second of each pass."""
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(db_path=Path(folder) / "bench.db")
        services = await open_services(settings, "bench", lambda: NOW)
        communes = list(services.centres.directory.communes.values())
        days = max(1, round(rows / 40_000 * 60))
        generated = generate(communes, NOW, seed=7, days=days)[:rows]
        path = Path(folder) / "hoso.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            for r in generated:
                writer.writerow(
                    [
                        r.code,
                        r.procedure_name,
                        r.commune_code,
                        _sync(r.received_at),
                        _sync(r.due_at),
                        r.status,
                        _sync(r.finished_at),
                        _sync(r.returned_at),
                        r.channel,
                        r.applicant,
                    ]
                )
        parser = RowParser(set(services.centres.directory.communes), settings.timezone)
        start = time.perf_counter()
        first = await import_file(path, services.dossiers, parser, NOW)
        fresh = time.perf_counter() - start
        start = time.perf_counter()
        again = await import_file(path, services.dossiers, parser, NOW)
        repeat = time.perf_counter() - start
        await services.db.close()
    assert first.inserted == len(generated), first
    assert not first.rejected, first
    assert again.unchanged == len(generated), again
    return {
        "rows": float(len(generated)),
        "fresh_rows_per_s": len(generated) / fresh,
        "again_rows_per_s": len(generated) / repeat,
    }


def main() -> None:
    """Print the result as one line."""
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    result = asyncio.run(measure(rows))
    print("import: " + ", ".join(f"{k}={v:.0f}" for k, v in result.items()))


if __name__ == "__main__":
    main()
