"""PostgREST's query-string grammar -> a typed request description (no SQL here).

Covers what supabase-py and supabase-js send: ``select`` (columns, ``alias:column``,
``column::cast``, JSON arrows, ``*``, embedded resources ``rel(...)``/``alias:rel!inner(...)``),
filters ``col=[not.]op.value`` with the operators in ``OPERATORS``, logic trees
``or=(...)``/``and=(...)``/``not.or=(...)``, ``order``, ``limit``, ``offset``, and the
same keys prefixed with an embedded resource path (``test_results.order=...``).
Every failure raises ``ParseError`` (PostgREST's PGRST100).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# the operators PostgREST accepts (value shapes differ: see ``_condition``)
COMPARISONS = {"eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch"}
CONTAINMENT = {"cs", "cd", "ov", "sl", "sr", "nxr", "nxl", "adj"}
TEXT_SEARCH = {"fts", "plfts", "phfts", "wfts"}
OPERATORS = COMPARISONS | CONTAINMENT | TEXT_SEARCH | {"in", "is", "isdistinct"}
IS_VALUES = {"null", "not_null", "true", "false", "unknown"}
RESERVED = {"select", "order", "limit", "offset", "on_conflict", "columns", "and", "or", "not.and"}
# cast targets accepted in ``select=col::type`` (a fixed list: they become SQL keywords)
CASTS = {
    "text",
    "int",
    "int4",
    "int8",
    "integer",
    "bigint",
    "numeric",
    "float8",
    "bool",
    "boolean",
    "json",
    "jsonb",
    "uuid",
    "date",
    "timestamptz",
}
AGGREGATES = {"count", "sum", "avg", "min", "max"}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_ $-]*$")
_ARROW = re.compile(r"(->>|->)")


class ParseError(Exception):
    """A query string PostgREST would refuse with PGRST100."""

    def __init__(self, message: str, details: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


@dataclass(frozen=True)
class Field:
    """A column, optionally followed by JSON steps: ``metadata->git->>sha``."""

    name: str
    json_path: tuple[tuple[str, str], ...] = ()  # (arrow, key) pairs

    @property
    def label(self) -> str:
        """The output key PostgREST uses: the last JSON key, else the column."""
        return self.json_path[-1][1] if self.json_path else self.name


@dataclass(frozen=True)
class Column:
    """``[alias:]field[::cast]`` in a select list."""

    field: Field
    alias: str | None = None
    cast: str | None = None


@dataclass(frozen=True)
class Star:
    """``*``: every column."""


@dataclass(frozen=True)
class Embed:
    """``[alias:]relation[!hint][!inner](...)``: rows of a related table."""

    relation: str
    items: tuple[SelectItem, ...]
    alias: str | None = None
    hint: str | None = None
    inner: bool = False

    @property
    def label(self) -> str:
        return self.alias or self.relation


SelectItem = Column | Star | Embed


@dataclass(frozen=True)
class Condition:
    """``field [not] op value``; ``value`` is a list for ``in``/``any``/``all`` forms."""

    field: Field
    op: str
    value: str | tuple[str, ...]
    negated: bool = False
    quantifier: str | None = None  # "any" | "all" for eq(any).{a,b}
    language: str | None = None  # fts(english)


@dataclass(frozen=True)
class Logic:
    """``and(...)``/``or(...)`` of conditions and nested trees."""

    op: str  # "and" | "or"
    items: tuple[Condition | Logic, ...]
    negated: bool = False


Filter = Condition | Logic


@dataclass(frozen=True)
class OrderTerm:
    """``field[.asc|.desc][.nullsfirst|.nullslast]``."""

    field: Field
    desc: bool = False
    nulls: str | None = None  # "first" | "last"


@dataclass
class Shape:
    """Filters, order and paging for one level (the root or one embedded path)."""

    filters: list[Filter] = field(default_factory=list)
    order: list[OrderTerm] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None


@dataclass
class ReadRequest:
    """Everything a query string says about what to read or touch."""

    select: tuple[SelectItem, ...] = (Star(),)
    root: Shape = field(default_factory=Shape)
    embedded: dict[tuple[str, ...], Shape] = field(default_factory=dict)
    on_conflict: tuple[str, ...] = ()
    columns: tuple[str, ...] | None = None
    extra: dict[str, str] = field(default_factory=dict)  # non-filter keys (RPC GET args)


def parse_query(
    pairs: list[tuple[str, str]], *, keep_unknown: frozenset[str] = frozenset()
) -> ReadRequest:
    """Parse the query string pairs; keys in ``keep_unknown`` go to ``extra`` (RPC args)."""
    req = ReadRequest()
    for key, value in pairs:
        if key in keep_unknown:
            req.extra[key] = value
            continue
        if key == "select":
            req.select = parse_select(value)
        elif key == "on_conflict":
            req.on_conflict = tuple(_split_names(value, "on_conflict"))
        elif key == "columns":
            req.columns = tuple(_split_names(value, "columns"))
        else:
            path, _, last = key.rpartition(".")
            prefix = tuple(path.split(".")) if path else ()
            if last in ("or", "and") and prefix and prefix[-1] == "not":
                # not.or=(...) / rel.not.or=(...)
                prefix = prefix[:-1]
                _shape(req, prefix).filters.append(_logic_root(last, value, negated=True))
            elif last in ("or", "and"):
                _shape(req, prefix).filters.append(_logic_root(last, value, negated=False))
            elif last == "order":
                _shape(req, prefix).order.extend(parse_order(value))
            elif last in ("limit", "offset"):
                number = _non_negative(value, last)
                shape = _shape(req, prefix)
                if last == "limit":
                    shape.limit = number
                else:
                    shape.offset = number
            else:
                _shape(req, prefix).filters.append(parse_condition(last, value))
    return req


def _shape(req: ReadRequest, prefix: tuple[str, ...]) -> Shape:
    if not prefix:
        return req.root
    return req.embedded.setdefault(prefix, Shape())


def _non_negative(value: str, key: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ParseError(f'"failed to parse {key} parameter ({value})"') from None
    if number < 0:
        raise ParseError(f'"failed to parse {key} parameter ({value})"')
    return number


def _split_names(value: str, key: str) -> list[str]:
    names = [_unquote(part.strip()) for part in split_top(value, ",")]
    if not names or any(not name for name in names):
        raise ParseError(f'"failed to parse {key} parameter ({value})"')
    return names


# ----------------------------------------------------------------------------- select
def parse_select(text: str) -> tuple[SelectItem, ...]:
    """``*,id,alias:name,rel(*),other:rel!inner(id)`` -> items."""
    text = "".join(text.split()) if '"' not in text else text.strip()
    if not text:
        return (Star(),)
    items: list[SelectItem] = []
    for part in split_top(text, ","):
        if not part:
            raise ParseError("failed to parse select parameter", f"unexpected empty item in {text}")
        items.append(_select_item(part))
    return tuple(items)


def _select_item(part: str) -> SelectItem:
    if part == "*":
        return Star()
    if part.endswith(")") and "(" in part:
        head, _, inner = part.partition("(")
        inner = inner[:-1]
        if not inner and head.rpartition(":")[2].rpartition(".")[2] in AGGREGATES:
            raise ParseError(
                "failed to parse select parameter", f"aggregate {head}() is not supported"
            )
        alias, _, target = head.rpartition(":") if ":" in head else ("", "", head)
        relation, *bangs = target.split("!")
        hint: str | None = None
        inner_join = False
        for bang in bangs:
            if bang == "inner":
                inner_join = True
            elif bang == "left":
                inner_join = False
            elif bang:
                hint = bang
        _check_name(relation, part)
        return Embed(
            relation=relation,
            items=parse_select(inner) if inner else (Star(),),
            alias=alias or None,
            hint=hint,
            inner=inner_join,
        )
    cast: str | None = None
    if "::" in part:
        part, _, cast = part.partition("::")
        if cast not in CASTS:
            raise ParseError("failed to parse select parameter", f"unsupported cast ::{cast}")
    label: str | None = None
    head = _ARROW.split(part)[0]
    if ":" in head:
        label, _, part = part.partition(":")
    return Column(field=parse_field(part), alias=label or None, cast=cast)


def parse_field(text: str) -> Field:
    """``name`` or ``name->a->>b`` (keys may be quoted)."""
    pieces = _ARROW.split(text)
    name = _unquote(pieces[0])
    _check_name(name, text)
    steps: list[tuple[str, str]] = []
    for i in range(1, len(pieces), 2):
        key = _unquote(pieces[i + 1]) if i + 1 < len(pieces) else ""
        if not key:
            raise ParseError(f'"failed to parse field ({text})"')
        steps.append((pieces[i], key))
    return Field(name=name, json_path=tuple(steps))


def _check_name(name: str, context: str) -> None:
    if not name or not _NAME.match(name):
        raise ParseError("failed to parse select parameter", f"unexpected name in ({context})")


# ------------------------------------------------------------------------------ order
def parse_order(text: str) -> list[OrderTerm]:
    """``a.desc.nullslast,b`` -> terms."""
    terms: list[OrderTerm] = []
    for part in split_top(text, ","):
        pieces = part.split(".")
        modifiers = pieces[1:]
        desc = False
        nulls: str | None = None
        for modifier in modifiers:
            if modifier in ("asc", "desc"):
                desc = modifier == "desc"
            elif modifier in ("nullsfirst", "nullslast"):
                nulls = modifier.removeprefix("nulls")
            else:
                raise ParseError(f'"failed to parse order ({text})"', f'unexpected "{modifier}"')
        if not pieces[0]:
            raise ParseError(f'"failed to parse order ({text})"')
        terms.append(OrderTerm(field=parse_field(pieces[0]), desc=desc, nulls=nulls))
    return terms


# ---------------------------------------------------------------------------- filters
def parse_condition(key: str, value: str) -> Condition:
    """``key=[not.]op[(modifier)].value``."""
    field_ = parse_field(key)
    negated = False
    rest = value
    if rest.startswith("not."):
        negated = True
        rest = rest[4:]
    op_text, dot, operand = rest.partition(".")
    if not dot:
        raise ParseError(f'"failed to parse filter ({value})"')
    quantifier: str | None = None
    language: str | None = None
    if "(" in op_text and op_text.endswith(")"):
        op_text, _, modifier = op_text[:-1].partition("(")
        if op_text in TEXT_SEARCH:
            language = modifier
        elif modifier in ("any", "all") and op_text in COMPARISONS:
            quantifier = modifier
        else:
            raise ParseError(f'"failed to parse filter ({value})"')
    if op_text not in OPERATORS:
        raise ParseError(f'"failed to parse filter ({value})"', f"unknown operator {op_text}")
    operand_value: str | tuple[str, ...] = operand
    if op_text == "in" or quantifier:
        operand_value = _list_operand(operand, value, "()" if op_text == "in" else "{}")
    elif op_text == "is":
        if operand.lower() not in IS_VALUES:
            raise ParseError(f'"failed to parse filter ({value})"')
        operand_value = operand.lower()
    return Condition(field_, op_text, operand_value, negated, quantifier, language)


def _list_operand(operand: str, raw: str, brackets: str) -> tuple[str, ...]:
    if not (operand.startswith(brackets[0]) and operand.endswith(brackets[1])):
        raise ParseError(f'"failed to parse filter ({raw})"')
    inner = operand[1:-1]
    if not inner:
        return ()
    return tuple(_unquote(item) for item in split_top(inner, ","))


def _logic_root(op: str, value: str, *, negated: bool) -> Logic:
    if not (value.startswith("(") and value.endswith(")")):
        raise ParseError(f'"failed to parse logic tree ({value})"')
    return Logic(op=op, items=_logic_items(value[1:-1], value), negated=negated)


def _logic_items(text: str, raw: str) -> tuple[Filter, ...]:
    items: list[Filter] = []
    for part in split_top(text, ","):
        negated = part.startswith("not.")
        body = part[4:] if negated else part
        for op in ("and", "or"):
            if body.startswith(op + "(") and body.endswith(")"):
                inner = body[len(op) + 1 : -1]
                items.append(Logic(op=op, items=_logic_items(inner, raw), negated=negated))
                break
        else:
            name, dot, rest = part.partition(".")
            if not dot:
                raise ParseError(f'"failed to parse logic tree ({raw})"')
            items.append(parse_condition(name, rest))
    if not items:
        raise ParseError(f'"failed to parse logic tree ({raw})"')
    return tuple(items)


# ----------------------------------------------------------------------------- helpers
def split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside parentheses, braces and double quotes."""
    parts: list[str] = []
    depth = 0
    quoted = False
    escaped = False
    current: list[str] = []
    for char in text:
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif not quoted and char in "({":
            depth += 1
        elif not quoted and char in ")}":
            depth -= 1
        elif char == sep and depth == 0 and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    if quoted or depth != 0:
        raise ParseError(f'"failed to parse ({text})"', "unbalanced quotes or parentheses")
    parts.append("".join(current))
    return parts


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text
