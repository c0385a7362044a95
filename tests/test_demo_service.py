"""Demo dossiers: the provincial report's volumes, every status, real procedure names, plausible codes."""

from collections import Counter
from datetime import UTC, datetime

from bot.demo import PROCEDURES, earlier_steps, former_towns, generate
from bot.dossiers import CODE_IN_TEXT, code_key, from_sql_time
from bot.registry import load_province
from storage.centres import Commune

NOW = datetime(2025, 9, 1, 3, 0, tzinfo=UTC)


def communes() -> list[Commune]:
    return [Commune(c.code, c.name, c.kind, c.name_key, c.lat, c.lon, c.area_km2) for c in load_province(20).communes]


def towns() -> frozenset[str]:
    return former_towns((unit.name, unit.default_successor) for unit in load_province(20).old_units)


def test_volumes_follow_the_provincial_report() -> None:
    units = communes()
    rows = generate(units, NOW, seed=5, days=60, towns=towns())
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


def test_the_real_shape_wards_then_former_district_towns_busiest_and_closed_ones_rare() -> None:
    units, seats = communes(), towns()
    names = {c.code: c.name for c in units}
    assert {"Xã Hữu Lũng", "Xã Thất Khê", "Xã Na Sầm", "Xã Đồng Đăng", "Phường Kỳ Lừa"} <= {names[c] for c in seats}
    rows = generate(units, NOW, seed=5, days=60, towns=seats)
    per_unit = Counter(r.commune_code for r in rows)
    ranked = [code for code, _ in per_unit.most_common()]
    kinds = {c.code: c.kind for c in units}
    assert {kinds[code] for code in ranked[:4]} == {"phuong"}  # the 4 wards first
    town_xa = {code for code in seats if kinds[code] == "xa"}
    assert set(ranked[4 : 4 + len(town_xa)]) == town_xa  # then every former district town
    statuses = Counter(r.status for r in rows)
    assert 0 < statuses[7] / len(rows) < 0.01 and 0 < statuses[3] / len(rows) < 0.02  # rare, never absent
    withdrawn = [r for r in rows if r.status == 7]
    assert all(r.finished_at is not None and r.received_at < r.finished_at for r in withdrawn)  # when it ended


def test_history_steps_come_in_order_and_never_after_the_finish() -> None:
    rows = generate(communes()[:10], NOW, seed=5, days=30)
    by_key = {r.code_key: r for r in rows}
    steps: dict[str, list[tuple[int, str]]] = {}
    for key, status, at in earlier_steps(rows):
        steps.setdefault(key, []).append((status, at))
    assert steps
    for key, taken in steps.items():
        row = by_key[key]
        times = [from_sql_time(at) for _, at in taken]
        assert times == sorted(times) and times[0] == from_sql_time(row.received_at)
        assert all(moment <= NOW for moment in times)
        if row.finished_at:
            assert all(moment <= from_sql_time(row.finished_at) for moment in times), key
