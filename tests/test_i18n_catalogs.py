"""Every message the code shows is in both catalogs, translated, with the same placeholders."""

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import LANGUAGES, LOCALE_DIR, translator

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"gettext": None, "ngettext": (1, 2), "N_": None, "say": None}  # as `make extract` reads them
PLACEHOLDER = re.compile(r"\{(\w*)\}")


def code_messages() -> set[str]:
    """Every msgid the code uses (a plural message by its singular)."""
    found: set[str] = set()
    for folder in ("bot", "handlers"):
        for _, _, message, _, _ in extract_from_dir(ROOT / folder, keywords=KEYWORDS, comment_tags=()):
            found.add(message if isinstance(message, str) else message[0])
    return found


def forms(value: object) -> list[str]:
    return [value] if isinstance(value, str) else [str(part) for part in value]  # type: ignore[attr-defined]


def catalog(language: str) -> Catalog:
    with (LOCALE_DIR / language / "LC_MESSAGES" / "phucvu.po").open("rb") as handle:
        return read_po(handle, locale=language)


def test_the_code_has_messages() -> None:
    assert len(code_messages()) > 20


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated(language: str) -> None:
    cat = catalog(language)
    problems = []
    for msgid in sorted(code_messages()):
        entry = cat.get(msgid)
        if entry is None:
            problems.append(f"missing: {msgid!r}")
        elif entry.fuzzy or not all(forms(entry.string)):
            problems.append(f"untranslated or fuzzy: {msgid!r}")
        elif any(set(PLACEHOLDER.findall(msgid)) != set(PLACEHOLDER.findall(form)) for form in forms(entry.string)):
            problems.append(f"placeholders differ: {msgid!r} → {entry.string!r}")
    assert not problems, f"locales/{language}: run `make extract` and translate:\n" + "\n".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_compiled_catalog_matches_the_po_file(language: str) -> None:
    t = translator(language)
    cat = catalog(language)
    stale = [m.id for m in cat if m.id and isinstance(m.id, str) and t.gettext(m.id) != m.string]
    stale += [
        m.id
        for m in cat
        if m.id and not isinstance(m.id, str) and t.ngettext(m.id[0], m.id[1], 2) != forms(m.string)[-1]
    ]
    assert not stale, "the .mo is older than the .po: run `make locales`"


def test_english_differs_from_vietnamese() -> None:
    assert translator("en").gettext("chưa cập nhật") == "not yet provided"
    assert translator("vi").gettext("chưa cập nhật") == "chưa cập nhật"


def test_babel_formats_numbers_dates_and_percentages_the_vietnamese_way() -> None:
    from datetime import date

    vi = translator("vi")
    assert vi.number(6600) == "6.600"
    assert vi.percent(0.956) == "95,6%"
    assert vi.full_date(date(2025, 8, 4)) == "Thứ Hai, 4 tháng 8, 2025"
    assert vi.number(2.345, 1) == "2,3"
    assert translator("en").number(6600) == "6,600"


# Words that only say how a choice is made on some channel: two messages that differ by one of them (or by an emoji)
# are one meaning, and must be one message.
TYPING = re.compile(r"\b(go|nhan|bam|chon|an|type|tap|press|send)\b")


def test_no_two_messages_differ_only_by_a_verb_of_typing_or_an_emoji() -> None:
    from bot.text import fold

    seen: dict[str, str] = {}
    twins = []
    for message in sorted(code_messages()):
        key = " ".join(TYPING.sub("_", fold(message)).split())
        if key in seen:
            twins.append((seen[key], message))
        seen[key] = message
    assert twins == []
