"""The centre finder: names, old addresses, locations, cards and the centres CSV import."""

import unicodedata
from pathlib import Path

import pytest

from bot.centres import (
    DETAILS_TTL,
    CentreService,
    Choices,
    District,
    Found,
    NotFound,
    Query,
    SearchOutcome,
    Split,
    haversine_km,
    parse_query,
)
from storage.centres import CentresRepo
from tests.conftest import NOW


def found_name(outcome: SearchOutcome) -> str:
    assert isinstance(outcome, Found), outcome
    return outcome.commune.name


@pytest.mark.parametrize(
    "text",
    [
        "Quý Hoà",
        "Quý Hòa",
        "quy hoa",
        "QUÝ HOÀ",
        unicodedata.normalize("NFD", "Quý Hoà"),
        "xã Quý Hòa",
        "Xã quý hoà",
        "x. Quý Hoà",
        "X.Quy Hoa",
        "Quy Hao",
    ],
)
def test_name_search_is_insensitive_to_case_diacritics_forms_tones_prefix_and_small_typos(
    centres: CentreService, text: str
) -> None:
    assert found_name(centres.search(text)) == "Xã Quý Hòa"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("p. Đông Kinh", "Phường Đông Kinh"),
        ("phường kỳ lừa", "Phường Kỳ Lừa"),
        ("Huu Lungg", "Xã Hữu Lũng"),
        ("That Khe", "Xã Thất Khê"),
        ("Lương Văn Trì", "Phường Lương Văn Tri"),
    ],
)
def test_names_and_typos(centres: CentreService, text: str, expected: str) -> None:
    assert found_name(centres.search(text)) == expected


def test_several_good_matches_offer_at_most_three_choices(centres: CentreService) -> None:
    outcome = centres.search("Sơn")
    assert isinstance(outcome, Choices)
    assert 2 <= len(outcome.options) <= 3
    assert all(option.commune is not None and "Sơn" in option.commune.name for option in outcome.options)


@pytest.mark.parametrize("text", ["hello world", "Hà Nội", "zzzz", "1234"])
def test_no_match(centres: CentreService, text: str) -> None:
    assert centres.search(text) == NotFound()


@pytest.mark.parametrize(
    "text", ["khai sinh", "cảm ơn", "hi", "hello", "lệ phí kết hôn", "làm căn cước", "đăng ký khai tử", "ok", "alo"]
)
def test_everyday_words_are_no_weak_match_of_a_place(centres: CentreService, text: str) -> None:
    assert centres.search(text) == NotFound()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("UBND xã Hữu Lũng ở đâu?", "Xã Hữu Lũng"),
        ("trung tâm hành chính công Cai Kinh", "Xã Cai Kinh"),
        ("Trung tâm phục vụ hành chính công phường Kỳ Lừa ở đâu", "Phường Kỳ Lừa"),
        ("tôi ở xã Đồng Tân cũ", "Xã Hữu Lũng"),
        ("cho hỏi bộ phận một cửa Quý Hoà", "Xã Quý Hòa"),
        ("dongdang", "Xã Đồng Đăng"),
        ("huulung", "Xã Hữu Lũng"),
        ("Cai Kin", "Xã Cai Kinh"),
        ("Hội Hoan", "Xã Hội Hoan"),  # `hội` also begins a question (`hỏi`)
        ("xã Hòa Cư", "Xã Công Sơn"),  # `cư` also ends one (`cũ`)
    ],
)
def test_questions_around_a_name_run_on_words_and_typos(centres: CentreService, text: str, expected: str) -> None:
    assert found_name(centres.search(text)) == expected


@pytest.mark.parametrize("text", ["😀😀😀", "!!!", "", "   ", "\x00\x01"])
def test_nothing_to_search_for(centres: CentreService, text: str) -> None:
    assert centres.search(text) == NotFound(empty=True)


@pytest.mark.parametrize(
    ("text", "old_name", "district"),
    [
        ("xã Đồng Tân, huyện Hữu Lũng", "Xã Đồng Tân", "Huyện Hữu Lũng"),
        ("Đồng Tân, Hữu Lũng", "Xã Đồng Tân", "Huyện Hữu Lũng"),
        ("xa dong tan huyen huu lung", "Xã Đồng Tân", "Huyện Hữu Lũng"),
        ("Đồng Tân Hữu Lũng", "Xã Đồng Tân", "Huyện Hữu Lũng"),
        ("phường Vĩnh Trại", "Phường Vĩnh Trại", "Thành phố Lạng Sơn"),
        ("phường Vĩnh Trại, thành phố Lạng Sơn, tỉnh Lạng Sơn", "Phường Vĩnh Trại", "Thành phố Lạng Sơn"),
        ("Vinh Trai", "Phường Vĩnh Trại", "Thành phố Lạng Sơn"),
    ],
)
def test_old_address_leads_to_the_unit_that_took_it_over(
    centres: CentreService, text: str, old_name: str, district: str
) -> None:
    outcome = centres.search(text)
    assert isinstance(outcome, Found), outcome
    assert outcome.via_old is not None
    assert (outcome.via_old.name, outcome.via_old.district_name) == (old_name, district)
    assert outcome.commune.code in outcome.via_old.successors


def test_old_unit_split_between_new_units_lists_all_of_them(centres: CentreService) -> None:
    outcome = centres.search("xã Hồng Phong, huyện Bình Gia")
    assert isinstance(outcome, Split)
    names = [c.name for c in outcome.communes]
    assert sorted(names) == ["Xã Hồng Phong", "Xã Đồng Đăng"]
    assert outcome.communes[0].code == outcome.old.successors[0]


def test_a_2025_name_whose_old_namesake_went_elsewhere_offers_both(centres: CentreService) -> None:
    outcome = centres.search("Chiến Thắng")
    assert isinstance(outcome, Choices)
    new, old = outcome.options
    assert new.commune is not None and new.commune.name == "Xã Chiến Thắng"
    assert old.old is not None and old.old.district_name == "Huyện Bắc Sơn"
    assert new.commune.code not in old.old.successors


def test_a_2025_name_whose_old_namesake_became_it_is_found_directly(centres: CentreService) -> None:
    outcome = centres.search("Quan Sơn")
    assert isinstance(outcome, Found)
    assert outcome.commune.name == "Xã Quan Sơn"


@pytest.mark.parametrize(
    ("text", "old_name", "new_name"),
    [
        ("thị trấn Cao Lộc", "Thị trấn Cao Lộc", "Phường Kỳ Lừa"),
        ("phường Chi Lăng", "Phường Chi Lăng", "Phường Lương Văn Tri"),
        ("phường Hoàng Văn Thụ", "Phường Hoàng Văn Thụ", "Phường Kỳ Lừa"),
        ("xã Tân Thanh", "Xã Tân Thanh", "Xã Hoàng Văn Thụ"),
        ("Tân Thanh", "Xã Tân Thanh", "Xã Hoàng Văn Thụ"),
        ("thôn Bản Đon, xã Mai Pha", "Xã Mai Pha", "Phường Đông Kinh"),
        ("số 10 đường Bà Triệu, phường Vĩnh Trại, TP Lạng Sơn, tỉnh Lạng Sơn", "Phường Vĩnh Trại", "Phường Đông Kinh"),
        ("Đông Quan Lộc Bình", "Xã Đông Quan", "Xã Na Dương"),
        ("Hòa Bình, Văn Quan", "Xã Hòa Bình", "Xã Văn Quan"),
    ],
)
def test_the_kind_typed_and_the_diacritics_pick_the_old_unit(
    centres: CentreService, text: str, old_name: str, new_name: str
) -> None:
    outcome = centres.search(text)
    assert isinstance(outcome, Found), outcome
    assert outcome.via_old is not None
    assert outcome.via_old.name == old_name
    assert outcome.commune.name == new_name


@pytest.mark.parametrize("text", ["xã Quan Sơn", "xã Quan Sơn, huyện Chi Lăng", "Văn Quan Lạng Sơn"])
def test_names_containing_quan_are_not_cut_as_districts(centres: CentreService, text: str) -> None:
    outcome = centres.search(text)
    assert isinstance(outcome, Found), outcome
    assert outcome.commune.name in ("Xã Quan Sơn", "Xã Văn Quan")


@pytest.mark.parametrize(
    ("text", "district", "count"),
    [
        ("huyện Văn Quan", "Huyện Văn Quan", 6),
        ("TP Lạng Sơn", "Thành phố Lạng Sơn", 4),
        ("Lạng Sơn", "Thành phố Lạng Sơn", 4),
    ],
)
def test_an_old_district_lists_the_units_it_went_to(
    centres: CentreService, text: str, district: str, count: int
) -> None:
    outcome = centres.search(text)
    assert isinstance(outcome, District), outcome
    assert outcome.name == district
    assert len(outcome.communes) == count


def test_more_namesakes_than_buttons_says_so(centres: CentreService) -> None:
    outcome = centres.search("Hòa Bình")
    assert isinstance(outcome, Choices)
    assert len(outcome.options) == 3
    assert outcome.more


def test_old_name_shared_by_several_districts_offers_a_choice(centres: CentreService) -> None:
    old = centres.directory.old_units.values()
    shared = {u.name_key for u in old if sum(v.name_key == u.name_key for v in old) > 1}
    new_keys = {c.name_key for c in centres.directory.communes.values()}
    name = sorted(shared - new_keys)[0]
    outcome = centres.search(name)
    assert isinstance(outcome, Choices)
    assert all(option.old is not None and option.old.name_key == name for option in outcome.options)


def test_parse_query_reads_kinds_districts_and_whole_addresses() -> None:
    assert parse_query("xã Đồng Tân, huyện Hữu Lũng") == Query("dong tan", "xa", "đồng tân", "huu lung")
    assert parse_query("Đồng Tân huyện Hữu Lũng") == Query("dong tan", None, None, "huu lung")
    assert parse_query("P. Vĩnh Trại, TP. Lạng Sơn, tỉnh Lạng Sơn", "lang son") == Query(
        "vinh trai", "phuong", "vĩnh trại", "lang son"
    )
    assert parse_query("thôn Bản Đon, xã Mai Pha").name == "mai pha"
    assert parse_query("huyện Văn Quan") == Query("", district="van quan")
    assert parse_query("a" * 5000).name == "a" * 120


async def test_nearest_centres_inside_the_province(centres: CentreService) -> None:
    result = await centres.nearest(21.8537, 106.7615)  # Lạng Sơn city
    assert not result.outside
    assert len(result.items) == 3
    assert [i.km for i in result.items] == sorted(i.km for i in result.items)
    assert result.items[0].commune.kind == "phuong"
    assert result.items[0].km < 5
    assert all(item.approximate for item in result.items)


@pytest.mark.parametrize(("lat", "lon"), [(0.0, 0.0), (21.0285, 105.8542), (-33.9, 151.2)])
async def test_a_point_outside_the_province_is_told_so_and_still_gets_the_nearest(
    centres: CentreService, lat: float, lon: float
) -> None:
    result = await centres.nearest(lat, lon)
    assert result.outside
    assert len(result.items) == 3
    assert result.items[0].km > 25


async def test_nearest_uses_the_recorded_venue(centres: CentreService) -> None:
    huu_lung = centres.commune("06385")
    assert huu_lung is not None and huu_lung.lat is not None and huu_lung.lon is not None
    await centres.update_details("06385", {"lat": 21.6, "lon": 106.4}, by="t", now="t")
    result = await centres.nearest(21.6, 106.4, count=1)
    assert result.items[0].commune.code == "06385"
    assert result.items[0].km < 0.01
    assert not result.items[0].approximate


def test_haversine() -> None:
    assert haversine_km(21.0285, 105.8542, 21.8537, 106.7615) == pytest.approx(131, abs=3)


async def test_card_marks_an_approximate_position_until_the_venue_is_known(centres: CentreService) -> None:
    card = await centres.card("06076")
    assert card is not None
    assert card.approximate
    assert card.details.address is None and card.details.phone is None
    assert (card.lat, card.lon) == (card.commune.lat, card.commune.lon)
    assert await centres.card("99999") is None
    assert await centres.card("01001") is None  # a ward of Hà Nội is not ours


async def test_import_csv_updates_good_rows_and_reports_bad_ones(centres: CentreService, tmp_path: Path) -> None:
    path = tmp_path / "centres.csv"
    path.write_text(
        "ma_xa,dia_chi,dien_thoai,gio_lam_viec,so_can_bo,ghi_chu,vi_do,kinh_do\n"
        "06385,Thôn Phố Vị,0205 3825 001,7:30-11:30; 13:30-17:00,5,,21.51,106.34\n"
        "99999,Nowhere,1,,,,,\n"
        "06076,,,,nhiều,,,\n"
        "6040,Khu 1 Thất Khê,,,,,,\n"
        "06016,,,,,,abc,106\n",
        encoding="utf-8",
    )
    report = await centres.import_csv(path, by="test", now=NOW.isoformat())
    assert report.updated == 2
    assert [line for line, _ in report.rejected] == [3, 4, 6]
    assert "99999" in report.rejected[0][1]
    card = await centres.card("06385")
    assert card is not None
    assert card.details.phone == "0205 3825 001"
    assert card.details.desk_staff == 5
    assert not card.approximate
    assert (await centres.repo.details("06040")).address == "Khu 1 Thất Khê"


async def test_import_csv_by_name_only_takes_an_exact_2025_name(centres: CentreService, tmp_path: Path) -> None:
    path = tmp_path / "centres.csv"
    path.write_text(
        "name,phone,hours\n"
        "Quý Hoà,0205 111,7:30–17:00\n"
        "Vĩnh Trại,0205 222,\n"
        "Tân Thanh,0205 333,\n"
        "Phường Chi Lăng,0205 444,\n"
        "thị trấn Cao Lộc,0205 555,\n"
        "Quy Hao,0205 666,\n",
        encoding="utf-8",
    )
    report = await centres.import_csv(path, by="test", now=NOW.isoformat())
    assert report.updated == 1
    assert [line for line, _ in report.rejected] == [3, 4, 5, 6, 7]
    assert (await centres.repo.details("06076")).phone == "0205 111"
    for code in ("05977", "06445", "06463", "06193", "05983", "06187"):
        assert (await centres.repo.details(code)).phone is None


async def test_the_provinces_own_centre_is_an_importable_row_and_every_empty_card_falls_back_to_it(
    centres: CentreService, tmp_path: Path
) -> None:
    card = await centres.card("06076")
    assert card is not None and card.fallback is not None and card.fallback.empty  # nothing known yet
    path = tmp_path / "centres.csv"
    path.write_text(
        "ma_xa,ten_xa,dia_chi,dien_thoai,gio_lam_viec,so_can_bo\n"
        "tinh,,Số 2 Hùng Vương,0205 3898 989,7:30-17:00,\n"
        "20,,,0205 3898 990,,\n"  # the province's code: the same row
        ",Tỉnh Lạng Sơn,,,7:00-17:00,\n"  # and its name
        "tinh,,,,,12\n"  # no desk staff for the province
        "06385,,Thôn Phố Vị,0205 3825 001,,\n",
        encoding="utf-8",
    )
    report = await centres.import_csv(path, by="test", now=NOW.isoformat())
    assert report.updated == 4 and [line for line, _ in report.rejected] == [5]
    assert "tỉnh" in report.rejected[0][1]
    province = await centres.repo.province_centre(20)
    assert (province.address, province.phone, province.opening_hours) == (
        "Số 2 Hùng Vương",
        "0205 3898 990",
        "7:00-17:00",
    )
    card = await centres.card("06076")
    assert card is not None and card.fallback is not None and card.fallback.centre == province
    assert card.fallback.province == "Lạng Sơn"
    known = await centres.card("06385")  # a commune that gave its own: no fallback
    assert known is not None and known.fallback is None


async def test_import_csv_needs_a_commune_column(centres: CentreService, tmp_path: Path) -> None:
    path = tmp_path / "centres.csv"
    path.write_text("phone\n0205\n", encoding="utf-8")
    with pytest.raises(ValueError, match="ma_xa"):
        await centres.import_csv(path, by="test", now=NOW.isoformat())


async def test_details_changed_by_another_process_show_after_the_cache_time(centres_repo: CentresRepo) -> None:
    clock = [1000.0]
    service = await CentreService.create(centres_repo, 20)
    service._monotonic = lambda: clock[0]
    assert (await service.details("06076")).phone is None
    await centres_repo.update_details("06076", {"phone": "0205 999"}, by="cli", now="t")  # as import-centres would
    assert (await service.details("06076")).phone is None
    clock[0] += DETAILS_TTL
    assert (await service.details("06076")).phone == "0205 999"
    await service.update_details("06076", {"phone": "0205 000"}, by="bot", now="t")
    assert (await service.details("06076")).phone == "0205 000"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Xã Chi Lăng", "06463"),  # also a pre-2025 district and town
        ("Chi Lăng", "06463"),
        ("Cao Lộc", "06193"),
        ("Hồng Phong", "06079"),
        ("06385", "06385"),
        ("Hữu Lũng", "06385"),
    ],
)
def test_an_exact_2025_name_or_a_code_names_one_commune(centres: CentreService, text: str, code: str) -> None:
    assert centres.commune_code(text) == (code, "")


def test_an_unclear_name_lists_the_candidates_with_their_codes(centres: CentreService) -> None:
    code, problem = centres.commune_code("Tân")
    assert code is None and "Xã Tân Thành (06445)" in problem


def test_every_name_of_the_registry_finds_its_unit(centres: CentreService) -> None:
    """Each 2025 name and each pre-2025 name, typed as it is written, leads to its unit (or offers it among the
    choices when it has namesakes): no word of a name is taken for a word of a question."""
    directory = centres.directory

    def leads_to(outcome: object, code: str | None, old_id: int | None) -> bool:
        if isinstance(outcome, Found):
            return outcome.commune.code == code or (outcome.via_old is not None and outcome.via_old.id == old_id)
        if isinstance(outcome, Choices):
            return (
                any(
                    (c.commune is not None and c.commune.code == code) or (c.old is not None and c.old.id == old_id)
                    for c in outcome.options
                )
                or outcome.more
            )
        if isinstance(outcome, Split):
            return outcome.old.id == old_id
        return False

    lost = [c.name for c in directory.communes.values() if not leads_to(centres.search(c.name), c.code, None)]
    lost += [
        f"{u.name}, {u.district_name}"
        for u in directory.old_units.values()
        if not leads_to(centres.search(f"{u.name}, {u.district_name}"), None, u.id)
    ]
    assert lost == []
