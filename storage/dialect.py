"""The repositories' SQL, written for SQLite, as PostgreSQL takes it (issue 17).

`to_postgres(sql)` rewrites what differs and `bind(sql, params)` also numbers the parameters (`?` in order, `:name`
by name) as asyncpg's `$1`, `$2`… Both skip string literals (`'status:' || id` holds no parameter). What is
rewritten:

- `INSERT OR IGNORE INTO …` → `INSERT INTO … ON CONFLICT DO NOTHING` (before a `RETURNING`);
- `json_object(`, `json_array(`, `json_group_array(` → `json_build_object(`, `json_build_array(`, `json_agg(`;
- `json_extract(column, '$.key')` → `(column::json ->> 'key')`;
- `substr(x, -N)` → `right(x, N)`;
- `a IS NOT b` (a row too) → `a IS DISTINCT FROM b` (`IS NOT NULL` stays);
- SQLite's scalar `min(a, b)`, `max(a, b)` → `least(a, b)`, `greatest(a, b)` (the aggregates stay);
- `json_each(?) c` → `json_values(CAST(? AS json)) AS c(value)` (m0026: `json_array_elements_text` with a
  truer row estimate); the index hint `+column` → `column`.

The schema gives PostgreSQL what else the SQL calls: `sum(boolean)` (a count of the rows where it holds) and
`date(text, text)` (a stored time's day, moved by SQLite's modifier such as `+420 minutes`).

A statement that needs more (SQLite's two-argument `min`/`max`, a sum of comparisons, temporary tables) is written
for each database where its repository is ported.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence

_LITERAL = re.compile(r"'(?:[^']|'')*'")
_PARAMETER = re.compile(r"\?|(?<![:\w]):([A-Za-z_]\w*)")
# Its key is a literal: rewritten over the whole statement, before the literals are set apart.
_JSON_EXTRACT = re.compile(r"\bjson_extract\(\s*([\w.]+)\s*,\s*'\$\.(\w+)'\s*\)", re.IGNORECASE)
_INSERT_OR_IGNORE = re.compile(r"\bINSERT\s+OR\s+IGNORE\s+INTO\b", re.IGNORECASE)
_RETURNING = re.compile(r"\s+RETURNING\s+", re.IGNORECASE)
_FUNCTIONS = (
    (re.compile(r"\bjson_object\(", re.IGNORECASE), "json_build_object("),
    (re.compile(r"\bjson_array\(", re.IGNORECASE), "json_build_array("),
    (re.compile(r"\bjson_group_array\(", re.IGNORECASE), "json_agg("),
    (re.compile(r"\bsubstr\(\s*([\w.]+)\s*,\s*-(\d+)\s*\)", re.IGNORECASE), r"right(\1, \2)"),
    (re.compile(r"\bIS\s+NOT\s+(?!NULL\b|TRUE\b|FALSE\b|DISTINCT\b)", re.IGNORECASE), "IS DISTINCT FROM "),
)
# SQLite's table of a JSON list's values (`json_each(?) c` … `c.value`), and its index hint (`+commune_code`: use no
# index on it), which PostgreSQL reads as a plus sign on text.
_JSON_EACH = re.compile(r"\bjson_each\(\?\)(?:\s+(?:AS\s+)?(?!WHERE\b|GROUP\b|ORDER\b)([A-Za-z_]\w*))?", re.IGNORECASE)
_INDEX_HINT = re.compile(r"(?<=[\s(,])\+(?=[A-Za-z_])")
_MIN_MAX = re.compile(r"\b(min|max)\(", re.IGNORECASE)


def _scalar_min_max(text: str) -> str:
    """SQLite's `min(a, b)` and `max(a, b)` (two arguments or more: not the aggregates) as `least`, `greatest`."""
    out, at = [], 0
    for match in _MIN_MAX.finditer(text):
        if match.start() < at:
            continue
        depth, commas, end = 0, 0, match.end()
        while end < len(text):
            char = text[end]
            if char == "(":
                depth += 1
            elif char == ")":
                if depth == 0:
                    break
                depth -= 1
            elif char == "," and depth == 0:
                commas += 1
            end += 1
        if commas:
            name = "least" if match.group(1).lower() == "min" else "greatest"
            out.append(text[at : match.start()] + name + "(")
            at = match.end()
    out.append(text[at:])
    return "".join(out)


def _outside_literals(sql: str) -> list[tuple[bool, str]]:
    """The statement cut into (is a literal, text) pieces."""
    pieces: list[tuple[bool, str]] = []
    at = 0
    for match in _LITERAL.finditer(sql):
        pieces.append((False, sql[at : match.start()]))
        pieces.append((True, match.group()))
        at = match.end()
    pieces.append((False, sql[at:]))
    return pieces


@functools.lru_cache(maxsize=1024)
def to_postgres(sql: str) -> str:
    """The statement with SQLite's spellings replaced by PostgreSQL's (parameters left as they are)."""
    out = []
    for literal, text in _outside_literals(_JSON_EXTRACT.sub(r"(\1::json ->> '\2')", sql)):
        if not literal:
            for pattern, replacement in _FUNCTIONS:
                text = pattern.sub(replacement, text)
        out.append(text)
    rewritten = _scalar_min_max("".join(out))
    rewritten = _JSON_EACH.sub(lambda m: f"json_values(CAST(? AS json)) AS {m.group(1) or 'j'}(value)", rewritten)
    rewritten = _INDEX_HINT.sub("", rewritten)
    if _INSERT_OR_IGNORE.search(rewritten):
        rewritten = _INSERT_OR_IGNORE.sub("INSERT INTO", rewritten, count=1)
        returning = _RETURNING.search(rewritten)
        if returning:
            at = returning.start()
            rewritten = rewritten[:at] + " ON CONFLICT DO NOTHING" + rewritten[at:]
        else:
            rewritten = rewritten.rstrip().rstrip(";") + " ON CONFLICT DO NOTHING"
    return rewritten


@functools.lru_cache(maxsize=1024)
def _numbered(sql: str) -> tuple[str, tuple[str | int, ...]]:
    """The statement with `$n` parameters, and what each stands for: a position (`?`) or a name (`:name`)."""
    order: list[str | int] = []
    names: dict[str, int] = {}
    out = []
    for literal, text in _outside_literals(to_postgres(sql)):
        if literal:
            out.append(text)
            continue

        def number(match: re.Match[str]) -> str:
            name = match.group(1)
            if name is None:
                order.append(len([o for o in order if isinstance(o, int)]))
                return f"${len(order)}"
            if name not in names:
                order.append(name)
                names[name] = len(order)
            return f"${names[name]}"

        out.append(_PARAMETER.sub(number, text))
    return "".join(out), tuple(order)


# What PostgreSQL is told a parameter is, by the Python value bound to it: SQLite never asks, PostgreSQL must know
# where the statement does not say (in `json_build_object('role', $1)`, `'key:' || $2`). None says nothing: the
# statement's context must (a column it is inserted into, a comparison).
_CASTS = {str: "text", int: "bigint", float: "double precision", bytes: "bytea", bool: "boolean"}
_NUMBERED = re.compile(r"\$(\d+)")


def bind(sql: str, params: Sequence[object] | Mapping[str, object] = ()) -> tuple[str, list[object]]:
    """The statement for asyncpg, each parameter cast to the type of its value, and the arguments in `$n` order."""
    statement, order = _numbered(sql)
    if isinstance(params, Mapping):
        args = [params[name] for name in order if isinstance(name, str)]
    else:
        values = list(params)
        args = [values[position] for position in order if isinstance(position, int)]
    casts = tuple(_CASTS.get(type(value)) for value in args)
    return (_cast(statement, casts) if any(casts) else statement), args


@functools.lru_cache(maxsize=4096)
def _cast(statement: str, casts: tuple[str | None, ...]) -> str:
    """The statement with `$n::type` where the n-th value has a type (per statement and types: on every query)."""
    pieces = []
    for literal, text in _outside_literals(statement):
        if not literal:
            text = _NUMBERED.sub(
                lambda m: m.group() + (f"::{cast}" if (cast := casts[int(m.group(1)) - 1]) else ""), text
            )
        pieces.append(text)
    return "".join(pieces)
