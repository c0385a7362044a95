"""Import speed: rows per second of `phucvu import-dossiers` on a generated CSV (goal ≥ 50,000 rows/s).

Run: `.venv/bin/python -m bench.dossier_import [ROWS] [ROUNDS]`. The CSV is made from the demo generator (real
procedure names, every status, all 65 communes, an applicant's phone on each row) in the national sync format,
with ZNS configured; each round imports it into a fresh database, then again (all unchanged).
"""

from __future__ import annotations

import asyncio
import csv
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.config import Settings
from bot.dossier_import import RowParser, import_file

# bot.app and bot.demo are imported where they are used: the import's child process (spawn) imports this module
# again as its main, and should cost what it costs under `phucvu import-dossiers` (bot.cli imports them late too).

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
    "so_dien_thoai",
)


def _sync(value: str | None) -> str:
    """Stored UTC text → the national sync format in local time (yyyyMMddHHmmss), as the one-stop system writes."""
    if not value:
        return ""
    moment = datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    return moment.astimezone(Settings().timezone).strftime("%Y%m%d%H%M%S")


def write_csv(path: Path, rows: int) -> int:
    """A CSV of about `rows` demo dossiers as the one-stop system exports them; how many rows it has."""
    return asyncio.run(_write_csv(path, rows))


async def _write_csv(path: Path, rows: int) -> int:
    from bot.demo import generate
    from bot.services import open_services

    settings = Settings(db_path=path.with_suffix(".registry.db"))
    services = await open_services(settings, lambda: NOW)
    communes = list(services.centres.directory.communes.values())
    await services.db.close()
    days = max(1, round(rows / 40_000 * 60))
    generated = generate(communes, NOW, seed=7, days=days)[:rows]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for number, r in enumerate(generated):
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
                    f"09{number % 10**8:08d}",  # the applicant's phone, as most rows carry one
                ]
            )
    return len(generated)


async def measure(path: Path, rows: int, folder: Path) -> tuple[float, float, float]:
    """Import the CSV into a fresh database, then again (all unchanged): rows per second of each, and CPU
    seconds (this process and the parsing child) per row of the two."""
    from bot.services import open_services

    # ZNS configured: the steps of the last week queue their applicants' messages as they would in production.
    templates = {"received": "1", "supplement": "2", "ready": "3", "overdue": "4"}
    settings = Settings(db_path=folder / f"bench-{time.monotonic_ns()}.db", zns_templates=templates)
    services = await open_services(settings, lambda: NOW)
    parser = RowParser(set(services.centres.directory.communes), settings.timezone)
    cpu = _cpu()
    try:
        start = time.perf_counter()
        first = await import_file(path, services.dossiers, parser, NOW)
        fresh = time.perf_counter() - start
        start = time.perf_counter()
        again = await import_file(path, services.dossiers, parser, NOW)
        repeat = time.perf_counter() - start
    finally:
        await services.db.close()
    cpu = _cpu() - cpu
    assert first.inserted == rows, first
    assert not first.rejected, first
    assert again.unchanged == rows, again
    return rows / fresh, rows / repeat, cpu / (2 * rows) * 1e6


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    """Print the result as one line: the median and range of a few rounds (this machine's speed drifts)."""
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        path = folder / "hoso.csv"
        rows = write_csv(path, rows)
        results = [asyncio.run(measure(path, rows, folder)) for _ in range(rounds)]
    fresh, again, cpu = (sorted(column) for column in zip(*results, strict=True))
    print(
        f"import: rows={rows}, rounds={rounds}, fresh_rows_per_s_median={statistics.median(fresh):.0f}"
        f" (min {fresh[0]:.0f}, max {fresh[-1]:.0f}), again_rows_per_s_median={statistics.median(again):.0f}"
        f" (min {again[0]:.0f}, max {again[-1]:.0f}), cpu_us_per_row_median={statistics.median(cpu):.1f}"
    )


if __name__ == "__main__":
    main()
