"""Vietnamese normalisation: Unicode forms, tone placement, folding, unit prefixes."""

import unicodedata

import pytest

from bot.text import clean, fold, name_key, normalize, split_text


@pytest.mark.parametrize(
    ("modern", "traditional"),
    [("Quý Hoà", "Quý Hòa"), ("thuý", "thúy"), ("khoẻ", "khỏe"), ("Nhất Hoà", "Nhất Hòa"), ("HOÀ", "HÒA")],
)
def test_tone_placement_is_unified(modern: str, traditional: str) -> None:
    assert normalize(modern) == traditional
    assert normalize(traditional) == traditional


@pytest.mark.parametrize("word", ["hoàng", "toán", "quý", "quỳnh", "Hữu Lũng", "khuya", "hoài"])
def test_words_written_alike_in_both_conventions_are_unchanged(word: str) -> None:
    assert normalize(word) == word


def test_nfd_input_equals_nfc_input() -> None:
    nfd = unicodedata.normalize("NFD", "Xã Quý Hoà")
    assert nfd != "Xã Quý Hoà"
    assert normalize(nfd) == "Xã Quý Hòa"
    assert fold(nfd) == fold("Xã Quý Hòa") == "xa quy hoa"


@pytest.mark.parametrize(
    "text", ["Hữu Lũng", "huu lung", "HUU LUNG", "xã Hữu Lũng", "X. Hữu Lũng", "x.Hữu Lũng", "Xã  Hữu-Lũng"]
)
def test_name_key_ignores_case_diacritics_prefix_and_punctuation(text: str) -> None:
    assert name_key(text) == "huu lung"


def test_d_with_stroke_folds_to_d() -> None:
    assert fold("Đồng Đăng") == "dong dang"


def test_prefix_is_only_stripped_as_a_whole_word() -> None:
    assert name_key("Xuân Dương") == "xuan duong"
    assert name_key("Phường Tam Thanh") == "tam thanh"
    assert name_key("Quan Sơn") == "quan son"
    assert name_key("thị trấn Hữu Lũng") == "huu lung"


def test_clean_removes_control_and_zero_width_characters() -> None:
    assert clean("Hữu\x00Lũng\u200b \x1b[31m") == "Hữu Lũng [31m"


def test_clean_removes_lone_surrogates_which_cannot_be_stored_or_sent() -> None:
    cleaned = clean("Mất\ud800 điện\udfff")
    assert cleaned == "Mất điện" and cleaned.encode()


def test_split_keeps_order_and_cuts_a_long_line_after_a_sentence() -> None:
    sentences = [f"Câu số {i} nói về hồ sơ của bạn." for i in range(200)]
    line = " ".join(sentences)
    parts = split_text("Đầu thư\n" + line + "\nCuối thư", 2000)
    assert all(len(part) <= 2000 for part in parts)
    assert parts[0] == "Đầu thư"
    assert all(part.endswith(".") for part in parts[1:-1])  # every cut after a sentence
    assert " ".join(parts[1:]).replace("\n", " ") == line + " Cuối thư"  # nothing lost, nothing reordered


def test_split_without_sentences_cuts_at_a_space_then_anywhere() -> None:
    words = " ".join(["trung tâm"] * 300)
    parts = split_text(words, 100)
    assert all(len(part) <= 100 for part in parts) and " ".join(parts) == words
    assert all(not part.startswith(" ") and not part.endswith(" ") for part in parts)
    assert split_text("a" * 250, 100) == ["a" * 100, "a" * 100, "a" * 50]
