"""Ratings on a real database: one per person and dossier, changeable for 7 days, exported without the rater."""

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Settings
from bot.people import Person
from bot.services import open_services
from tests.factories import KEY, dossier_row

NOW = datetime(2025, 8, 10, 3, 0, tzinfo=UTC)
CITIZEN = Person("zalo", "6ede9a1b2c3d4e5f")


async def test_one_rating_per_person_changeable_for_seven_days(settings: Settings) -> None:
    services = await open_services(settings, lambda: NOW)
    try:
        ratings = services.ratings
        assert (await ratings.rate(CITIZEN, KEY, 3, NOW)).outcome == "missing"  # no such dossier yet
        await services.dossiers.apply([dossier_row(status=9)], "test", NOW)
        assert (await ratings.rate(CITIZEN, KEY, 3, NOW)).outcome == "missing"  # not returned yet
        await services.dossiers.apply([dossier_row(status=10)], "test", NOW)
        assert (await ratings.rate(CITIZEN, KEY, 4, NOW)).outcome == "missing"  # no such score
        assert (await ratings.rate(CITIZEN, KEY, 1, NOW)).outcome == "saved"
        assert await ratings.explain(CITIZEN, KEY, NOW, reason="time")
        assert await ratings.explain(CITIZEN, KEY, NOW, reason="trips")
        assert not await ratings.explain(CITIZEN, KEY, NOW, reason="bribes")
        assert await ratings.explain(CITIZEN, KEY, NOW, comment="  chậm  ")
        [kept] = await ratings.export()
        assert (kept.score, kept.reasons, kept.comment) == (1, "time,trips", "chậm")
        assert (await ratings.rate(CITIZEN, KEY, 2, NOW + timedelta(days=6))).outcome == "changed"
        assert (await ratings.rate(CITIZEN, KEY, 3, NOW + timedelta(days=8))).outcome == "closed"
        assert not await ratings.explain(CITIZEN, KEY, NOW + timedelta(days=8), comment="late")
        [kept] = await ratings.export()
        assert (kept.score, kept.reasons, kept.comment) == (2, "", "")
    finally:
        await services.db.close()


def test_export_ratings_has_no_rater(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PHUCVU_DB", str(tmp_path / "cli.db"))
    monkeypatch.chdir(tmp_path)

    async def rate() -> None:
        services = await open_services(Settings(db_path=tmp_path / "cli.db"), lambda: NOW)
        try:
            await services.dossiers.apply([dossier_row(status=10)], "test", NOW)
            await services.ratings.rate(CITIZEN, KEY, 1, NOW)
            await services.ratings.explain(CITIZEN, KEY, NOW, comment="=HYPERLINK(1)")
        finally:
            await services.db.close()

    asyncio.run(rate())
    assert main(["export-ratings", "--output", str(tmp_path / "r.csv")]) == 0
    assert "Đã xuất 1 đánh giá." in capsys.readouterr().err
    text = (tmp_path / "r.csv").read_text(encoding="utf-8-sig")
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["ma_xa"] == "06385" and row["ten_xa"] == "Xã Hữu Lũng" and row["muc_do"] == "khong_hai_long"
    assert row["gop_y"] == "'=HYPERLINK(1)" and row["ngay_danh_gia"].startswith("2025-08-10T10:00:00+07:00")
    assert CITIZEN.external_id not in text and "Hoàng Thị Bích" not in text


async def test_ratings_count_as_lookups(settings: Settings) -> None:
    """Whoever holds a code may rate its dossier once; every try is a lookup, so codes cannot be guessed through
    ratings any more than through lookups."""
    services = await open_services(settings, lambda: NOW)
    try:
        await services.dossiers.apply([dossier_row(status=10)], "test", NOW)
        guesses = [f"0000037H37250804{n:04d}" for n in range(1, 11)]  # ten codes nobody was given
        assert [(await services.ratings.rate(CITIZEN, key, 3, NOW)).outcome for key in guesses] == ["missing"] * 10
        assert (await services.ratings.rate(CITIZEN, KEY, 3, NOW)).outcome == "missing"  # slowed down, as lookups
        lookup = await services.dossiers.lookup(CITIZEN, KEY, NOW)
        assert lookup.wait_until is not None
        assert await services.ratings.export() == []
    finally:
        await services.db.close()
