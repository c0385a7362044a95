"""Vietnamese text normalisation: the one place that knows about Unicode forms, tone placement and folding.

`normalize` gives the canonical display form (NFC, traditional tone placement: `hoà` → `hòa`, `thuý` → `thúy`),
`fold` gives the search key (no diacritics, `đ` → `d`, lower case, single spaces), and `strip_unit_prefix` drops
a leading `xã`/`phường`/`thị trấn`/`x.`/`p.` so that `Xã Hữu Lũng` and `huu lung` meet.
"""

from __future__ import annotations

import re
import unicodedata

# Combining tone marks (as they appear after NFD): grave, acute, hook above, tilde, dot below.
_TONES = frozenset("\u0300\u0301\u0309\u0303\u0323")
# Open-syllable clusters whose tone moves between the two conventions: modern `hoà` ↔ traditional `hòa`.
_CLUSTERS = ("oa", "oe", "uy")
_CONTROL = re.compile(r"[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]")
_NON_WORD = re.compile(r"[^0-9a-z]+")
_WORD = re.compile(r"\w+", re.UNICODE)

# Folded prefixes naming a unit's kind, longest first; `x.`/`p.` are folded to `x `/`p ` by then.
UNIT_PREFIXES = (
    "thanh pho",
    "thi tran",
    "thi xa",
    "phuong",
    "huyen",
    "tp",
    "tt",
    "xa",
    "x",
    "p",
    "h",
)


def clean(text: str) -> str:
    """Remove control and zero-width characters, NFC-normalise and collapse white space."""
    # Nothing to do (the common case): every control, zero-width and non-ASCII space is unprintable to Python.
    if (
        text.isprintable()
        and "  " not in text
        and text[:1] != " " != text[-1:]
        and unicodedata.is_normalized("NFC", text)
    ):
        return text
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub(" ", text)
    return " ".join(text.split())


def _retone_word(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word)
    letters: list[str] = []
    tone = ""
    tone_at = -1
    for char in decomposed:
        if char in _TONES:
            tone = char
            tone_at = len(letters) - 1
        elif unicodedata.combining(char) and letters:
            letters[-1] += char
        else:
            letters.append(char)
    if not tone or len(letters) < 2:
        return word
    bases = [letter[0].lower() for letter in letters]
    tail = "".join(bases[-2:])
    # Only a word ending in oa/oe/uy (no final consonant) is written differently; `qu` + y keeps y's tone.
    if tail in _CLUSTERS and tone_at == len(letters) - 1 and not (tail == "uy" and bases[-3:-2] == ["q"]):
        tone_at = len(letters) - 2
    else:
        return word
    rebuilt = [letter + (tone if i == tone_at else "") for i, letter in enumerate(letters)]
    return unicodedata.normalize("NFC", "".join(rebuilt))


def normalize(text: str) -> str:
    """Canonical display form: cleaned, NFC, traditional tone placement (`Quý Hoà` → `Quý Hòa`)."""
    return _WORD.sub(lambda m: _retone_word(m.group(0)), clean(text))


def fold(text: str) -> str:
    """Search key: no diacritics, `đ` → `d`, lower case, punctuation to single spaces."""
    decomposed = unicodedata.normalize("NFD", clean(text).lower().replace("đ", "d"))
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(_NON_WORD.sub(" ", bare).split())


def strip_unit_prefix(folded: str) -> str:
    """Drop one leading unit kind (`xa`, `phuong`, `thi tran`, `x`, `p`…) from a folded name."""
    for prefix in UNIT_PREFIXES:
        if folded.startswith(prefix + " ") and len(folded) > len(prefix) + 1:
            return folded[len(prefix) + 1 :]
    return folded


def name_key(text: str) -> str:
    """The folded name without its unit kind: `Xã Quý Hoà` → `quy hoa`."""
    return strip_unit_prefix(fold(text))


# Where a line too long for one message may be cut: after a sentence, else at a space.
_SENTENCE_END = re.compile(r"[.!?…;:](?=\s)")


def _cut_line(line: str, limit: int) -> tuple[str, str]:
    """The first part of a line longer than `limit` and the rest: up to the last sentence end that fits, else
    the last space, else `limit` characters."""
    window = line[: limit + 1]
    ends = [match.end() for match in _SENTENCE_END.finditer(window) if match.end() <= limit]
    cut = ends[-1] if ends and ends[-1] > limit // 2 else window.rfind(" ", 0, limit + 1)
    if cut <= 0 or not line[:cut].strip():  # no boundary, or only blanks before it: cut anywhere
        return line[:limit], line[limit:]
    return line[:cut].rstrip(), line[cut:].lstrip()


def split_text(text: str, limit: int) -> list[str]:
    """Cut a text into parts of at most `limit` characters, in order: between paragraphs where possible, else
    between lines; a line longer than the limit is cut after a sentence, else at a space, else anywhere."""
    parts: list[str] = []
    current = ""
    for block in text.split("\n\n"):
        candidate = f"{current}\n\n{block}" if current else block
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
            current = ""
        for line in block.split("\n"):
            if len(line) > limit and current:  # what comes before a line too long to keep whole goes first
                parts.append(current)
                current = ""
            while len(line) > limit:
                head, line = _cut_line(line, limit)
                parts.append(head)
            candidate = f"{current}\n{line}" if current else line
            if len(candidate) <= limit:
                current = candidate
            else:
                parts.append(current)
                current = line
    if current:
        parts.append(current)
    return [part for part in parts if part.strip()]  # a blank part is no message (and Zalo refuses one)


_KIND_WORDS = ("Xã ", "Phường ", "Thị trấn ", "Huyện ", "Tỉnh ", "Thành phố ")


def in_running_text(name: str) -> str:
    """A unit's name as running text writes it: `Xã Cai Kinh` → `xã Cai Kinh` (the one-stop system's style)."""
    for word in _KIND_WORDS:
        if name.startswith(word):
            return word.lower() + name[len(word) :]
    return name
