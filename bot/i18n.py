"""Translators: gettext catalogs in `locales/` (vi default, en second) plus Babel formatting in that locale."""

from __future__ import annotations

import functools
import re
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_time
from babel.numbers import format_decimal, format_percent
from babel.support import Translations

from bot.text import fold

DOMAIN = "phucvu"
LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
# The compiled catalogs: inside the package when it was installed from a wheel (setup.py compiles them at build
# time), else the repository's `locales/` (compiled by `make locales`).
_PACKAGED = Path(__file__).resolve().parent / "locales"
LOCALE_DIR = _PACKAGED if _PACKAGED.is_dir() else Path(__file__).resolve().parent.parent / "locales"


_DAY = {"vi": "dd/MM/yyyy", "en": "d MMM yyyy"}
_TIME = "HH:mm"
_MOMENT = {"vi": "{time} {day}", "en": "{day}, {time}"}  # how the two join in each language


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated later, where it is shown."""
    return message


class Translator:
    """One language's catalog and number/date formats."""

    def __init__(self, language: str, translations: Translations) -> None:
        self.language = language
        self.locale = Locale.parse(language)
        self._translations = translations

    def gettext(self, message: str) -> str:
        """The message in this language."""
        return self._translations.gettext(message)

    def ngettext(self, singular: str, plural: str, count: int) -> str:
        """The singular or plural message for `count`, in this language."""
        return self._translations.ngettext(singular, plural, count)

    def number(self, value: int | float | Decimal, digits: int = 0) -> str:
        """`6600` → `6.600` (vi) or `6,600` (en); `digits` fixes the decimals shown."""
        pattern = None if digits == 0 else "#,##0." + "0" * digits
        return format_decimal(value, format=pattern, locale=self.locale)

    def percent(self, value: float, digits: int = 1) -> str:
        """`0.956` → `95,6%` (vi)."""
        return format_percent(value, format="#,##0." + "0" * digits + "%", locale=self.locale)

    def full_date(self, value: date | datetime) -> str:
        """A date written out: `Thứ Hai, 4 tháng 8, 2025` (vi)."""
        return format_date(value, format="full", locale=self.locale)

    def day(self, value: date | datetime) -> str:
        """A compact date: `04/08/2025` (vi), `4 Aug 2025` (en)."""
        return _day(self.language, value.year, value.month, value.day)

    def moment(self, value: datetime) -> str:
        """A compact date and time as the value's own clock shows it: `08:30 04/08/2025` (vi), `4 Aug 2025, 08:30`
        (en)."""
        return _MOMENT[self.language].format(
            day=_day(self.language, value.year, value.month, value.day),
            time=_time(self.language, value.hour, value.minute),
        )


# A lookup shows up to seven dates and times, and Babel takes several microseconds for each: the days and the
# minutes of the day are formatted once each (history times rarely repeat, their days and minutes do).
@functools.lru_cache(maxsize=4096)
def _day(language: str, year: int, month: int, day: int) -> str:
    return format_date(date(year, month, day), format=_DAY[language], locale=language)


@functools.lru_cache(maxsize=2 * 24 * 60)
def _time(language: str, hour: int, minute: int) -> str:
    return format_time(time(hour, minute), format=_TIME, locale=language)


@functools.cache
def translator(language: str) -> Translator:
    """The translator for `language` (falling back to Vietnamese for anything we do not speak)."""
    if language not in LANGUAGES:
        language = DEFAULT_LANGUAGE
    translations = Translations.load(str(LOCALE_DIR), [language], DOMAIN)
    if not isinstance(translations, Translations):
        raise RuntimeError(f"catalog for {language!r} is not compiled in {LOCALE_DIR}: run `make locales`")
    return Translator(language, translations)


PARTIAL = 4  # letters a typed word needs to stand for the beginning of a name's word (`gui` is no `guidance`)


def match(text: str, names: dict[str, str], words: dict[str, tuple[str, ...]] | None = None) -> str | None:
    """The one key the typed text stands for: a name (a message, in any language) or its key typed whole, else a
    name one of whose words it begins (four letters at least), else one of `words` it contains; None if none or
    several fit."""
    typed = fold(text)
    if not typed:
        return None
    exact, partial, phrases = set(), set(), set()
    for key, message in names.items():
        for language in LANGUAGES:
            name = fold(translator(language).gettext(message))
            if typed in (name, key):
                exact.add(key)
            elif len(typed) >= PARTIAL and re.search(rf"(?<![0-9a-z]){re.escape(typed)}", name):
                partial.add(key)
        if any(re.search(rf"(?<![0-9a-z]){re.escape(word)}(?![0-9a-z])", typed) for word in (words or {}).get(key, ())):
            phrases.add(key)
    found = exact or partial or phrases
    return found.pop() if len(found) == 1 else None
