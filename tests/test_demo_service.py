"""Demo dossiers: the provincial report's volumes, every status, real procedure names, plausible codes."""

from collections import Counter
from datetime import UTC, datetime

from bot.demo import PROCEDURES, generate
from bot.dossiers import CODE_IN_TEXT, code_key
from bot.registry import load_province
from storage.centres import Commune

NOW = datetime(2025, 9, 1, 3, 0, tzinfo=UTC)


def communes() -> list[Commune]:
    return [Commune(c.code, c.name, c.kind, c.name_key, c.lat, c.lon, c.area_km2) for c in load_province(20).communes]


def test_volumes_follow_the_provincial_report() -> None:
    units = communes()
    rows = generate(units, NOW, seed=5, days=60)
    kinds = {c.code: c.kind for c in units}
    per_unit = Counter(r.commune_code for r in rows)
    phuong_month = sum(n for code, n in per_unit.items() if kinds[code] == "phuong") / 2
    assert 5_600 <= phuong_month <= 7_600  # ≈ 6,600 a month for the 4 phường together
    xa_month = [n / 2 for code, n in per_unit.items() if kinds[code] == "xa"]
    assert len(xa_month) == 61
    assert min(xa_month) >= 70
    assert max(xa_month) <= 480


def test_every_status_real_procedures_and_codes_that_parse() -> None:
    rows = generate(communes(), NOW, seed=5, days=60)
    assert set(Counter(r.status for r in rows)) == set(range(1, 11))
    assert {r.procedure_name for r in rows} <= {p[0] for p in PROCEDURES}
    assert all(r.procedure_code is None for r in rows)  # no national procedure code is invented
    assert len({r.code_key for r in rows}) == len(rows)
    assert all(CODE_IN_TEXT.fullmatch(r.code) and code_key(r.code) == r.code_key for r in rows[:500])
    finished = [r for r in rows if r.status in (9, 10)]
    on_time = sum(
        1 for r in finished if r.finished_at is not None and r.due_at is not None and r.finished_at <= r.due_at
    )
    assert 0.9 <= on_time / len(finished) <= 0.99


def test_same_seed_same_day_same_rows() -> None:
    assert generate(communes(), NOW, seed=9, days=3) == generate(communes(), NOW, seed=9, days=3)
