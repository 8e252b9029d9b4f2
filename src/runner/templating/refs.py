"""The one grammar of references: ``captured_data.login.token`` in templates, ``$.a[0]`` in paths.

A *reference* is a name and the constant keys read from it, one step at a time:
``.name``, ``['key']``, ``["key"]`` or ``[0]``. The same steps make three readings:

* ``split_template``: a template made only of text and ``{{ reference }}`` blocks, as
  parts; the renderer fills those by plain indexing instead of compiling jinja2.
* ``template_references``: every reference a template reads, and ``state_uses``, the
  shared state among them, so the plan can infer who waits for whom. Simple templates
  are read with the patterns below; anything else is parsed with jinja2 and read from
  its syntax tree, with the same results.
* ``path_keys``: the keys of a plain JSONPath (``$.a['b'][0]``), walked directly by
  captures and checks instead of through jsonpath-ng.

Reading a template this way costs a few microseconds; parsing it with jinja2 ~75 µs
and compiling it ~300 µs, too much for 100k distinct URLs.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

import jinja2
from jinja2 import nodes

Key = str | int
"""One constant step of a reference: a mapping key or a list index."""

STATE_ROOTS = frozenset({"captured_data", "shared_auth_tokens", "shared_variables"})
"""The names of the run's shared state: reading one makes a test wait for another."""

StateUse = tuple[str, str, str | None]
"""One use of shared state: ``("captured_data", "login", "token")``, capture None if unnamed."""

_MARKERS = ("{{", "{%", "{#")

# One step: ``.name``, ``['key']``, ``["key"]`` or ``[index]``. ``{s}`` is where
# whitespace may go: jinja2 skips it between tokens, a plain JSONPath has none (and
# jsonpath-ng would read a path with other spaces its own way). A quoted key holds no
# backslash: both jinja2 and jsonpath-ng read escapes in it. An index has no leading
# zero: jinja2 refuses ``[007]``.
_STEP = r"\.{s}([A-Za-z_]\w*)|\[{s}(?:'([^'\\]*)'|\"([^\"\\]*)\"|(0|[1-9]\d*)){s}\]"
_SPACED = _STEP.format(s=r"\s*")
_TIGHT = _STEP.format(s="")
_TEMPLATE_STEP = re.compile(_SPACED, re.A)
_PATH_STEP = re.compile(_TIGHT, re.A)
# the inside of a ``{{ }}`` block holding one reference: a name and its steps
_REFERENCE = re.compile(rf"\s*([A-Za-z_]\w*)((?:\s*(?:{_SPACED}))*)\s*", re.A)
_PATH = re.compile(rf"\$((?:{_TIGHT})*)", re.A)
_BLOCK = re.compile(r"\{\{(.*?)\}\}", re.S)
_LONE_EXPRESSION = re.compile(r"\{\{-?(.*?)-?\}\}", re.S)
# jinja2 reads ``mapping.items`` as the mapping's method, not its key ``items``
_DICT_ATTRIBUTES = frozenset(dir(dict))
_NOT_KEYS: frozenset[str] = frozenset()
_ENV = jinja2.Environment(autoescape=False)  # noqa: S701 - parsed, never rendered


class Reference(NamedTuple):
    """A name a template reads and the constant keys read from it, in order.

    ``captured_data.login['items'][0]`` is ``Reference("captured_data", ("login",
    "items", 0))``. Keys stop where the chain stops being constant keys: at a method
    (``captured_data.login.get('x')``) or a computed subscript (``captured_data[row.t]``).
    """

    root: str
    keys: tuple[Key, ...] = ()


def has_template(text: str) -> bool:
    """True when a string contains jinja2 markers and must be rendered."""
    return "{" in text and any(m in text for m in _MARKERS)


def lone_expression(source: str) -> str | None:
    """The expression of a template that is one ``{{ expression }}`` alone, else None."""
    match = _LONE_EXPRESSION.fullmatch(source)
    if match is None:
        return None
    inner = match.group(1)
    return None if any(m in inner for m in (*_MARKERS, "}}")) else inner.strip()


def _steps(
    steps: str, pattern: re.Pattern[str], not_keys: frozenset[str]
) -> tuple[tuple[Key, ...], bool]:
    """The keys of the steps, up to the first attribute that is not a key; and True if none was."""
    keys: list[Key] = []
    for step in pattern.finditer(steps):
        attr, single, double, index = step.groups()
        if attr is not None:
            if attr in not_keys:
                return tuple(keys), False
            keys.append(attr)
        elif index is not None:
            keys.append(int(index))
        else:
            keys.append(single if single is not None else double)
    return tuple(keys), True


# ``Reference(root, keys)`` runs the named tuple's Python ``__new__``; this is the same
# tuple without it, ~0.25 µs less for each block of each of 100k templates
_new = tuple.__new__


def _read_block(expr: str) -> tuple[Reference, bool] | None:
    """The reference a block holds, and whether it was read whole; None if it holds more."""
    match = _REFERENCE.fullmatch(expr)
    if match is None:
        return None
    steps = match.group(2)
    if not steps:
        return _new(Reference, (match.group(1), ())), True
    keys, whole = _steps(steps, _TEMPLATE_STEP, _DICT_ATTRIBUTES)
    return _new(Reference, (match.group(1), keys)), whole


def split_template(source: str) -> tuple[str | Reference, ...] | None:
    """Text and references, when the template is only text and ``{{ reference }}`` blocks.

    None for anything else (statements, comments, filters, calls, methods such as
    ``.items``, no block at all), which only jinja2 can render.
    """
    if "{%" in source or "{#" in source:
        return None
    parts: list[str | Reference] = []
    end = 0
    for block in _BLOCK.finditer(source):
        if block.start() > end:
            parts.append(source[end : block.start()])
        read = _read_block(block.group(1))
        if read is None or not read[1]:
            return None
        parts.append(read[0])
        end = block.end()
    if not end or "{{" in source[end:]:
        return None  # no block, or an unclosed one: jinja2 words the syntax error
    if end < len(source):
        parts.append(source[end:])
    return tuple(parts)


def _simple_references(source: str) -> list[Reference] | None:
    """The references of a template made only of text and blocks that hold one, else None.

    A chain cut short by a method still counts, up to the method (as jinja2 reads it).
    """
    if "{%" in source or "{#" in source:
        return None
    found: list[Reference] = []
    end = 0
    for block in _BLOCK.finditer(source):
        read = _read_block(block.group(1))
        if read is None:
            return None
        found.append(read[0])
        end = block.end()
    if not end or "{{" in source[end:]:
        return None
    return found


def template_references(source: str) -> frozenset[Reference]:
    """Every reference a jinja2 template reads (raises ``jinja2.TemplateSyntaxError``).

    A bare name is a reference with no keys; a name only called (``uuid()``) is not one.
    """
    if "{{" not in source and "{%" not in source and "{#" not in source:
        return frozenset()
    simple = _simple_references(source)
    return frozenset(simple) if simple is not None else parsed_references(source)


@functools.lru_cache(maxsize=1 << 17)
def state_uses(source: str) -> tuple[StateUse, ...]:
    """The shared state a template reads by constant name: ``(root, name, capture)``.

    What makes a test wait for another (and what a token refresh looks for). Raises
    ``jinja2.TemplateSyntaxError``. ``captured_data[row.source]`` names nothing before
    the run, so it is no use. Cached: the plan reads 100k templates, many alike.
    """
    if "{{" not in source and "{%" not in source and "{#" not in source:
        return ()
    simple = _simple_references(source)
    uses: set[StateUse] = set()
    for root, keys in simple if simple is not None else parsed_references(source):
        if root in STATE_ROOTS and keys and type(name := keys[0]) is str:
            attr = keys[1] if len(keys) > 1 and type(keys[1]) is str else None
            uses.add((root, name, attr))
    return tuple(uses)


def parse(source: str) -> nodes.Template:
    """jinja2's syntax tree of a template, parsed only (raises ``jinja2.TemplateSyntaxError``)."""
    return _ENV.parse(source)


def parsed_references(source: str) -> frozenset[Reference]:
    """``template_references`` read from jinja2's syntax tree, whatever the template."""
    tree = parse(source)
    called = {id(call.node) for call in tree.find_all(nodes.Call)}
    accesses = [
        access
        for access in tree.find_all((nodes.Getattr, nodes.Getitem))
        if isinstance(access, nodes.Getattr | nodes.Getitem)
    ]
    inner = {id(access.node) for access in accesses}
    found: set[Reference] = set()
    for outer in accesses:
        if id(outer) in inner:
            continue  # part of a longer chain, read from its outermost access
        chain: list[nodes.Getattr | nodes.Getitem] = []
        node: nodes.Node = outer
        while isinstance(node, nodes.Getattr | nodes.Getitem):
            chain.append(node)
            node = node.node
        if not isinstance(node, nodes.Name):
            continue
        keys: list[Key] = []
        for link in reversed(chain):
            # a called access is a method of the mapping (``.get('x')``), not a key
            key = None if id(link) in called else _constant_key(link)
            if key is None:
                break
            keys.append(key)
        found.add(Reference(node.name, tuple(keys)))
    for name in tree.find_all(nodes.Name):
        bare = id(name) not in inner and id(name) not in called
        if bare and isinstance(name, nodes.Name) and name.ctx == "load":
            found.add(Reference(name.name))
    return frozenset(found)


def _constant_key(link: nodes.Getattr | nodes.Getitem) -> Key | None:
    if isinstance(link, nodes.Getattr):
        return None if link.attr in _DICT_ATTRIBUTES else link.attr
    if isinstance(link.arg, nodes.Const) and type(link.arg.value) in (str, int):
        return link.arg.value  # type: ignore[no-any-return]
    return None


def path_keys(path: str) -> tuple[Key, ...] | None:
    """The keys of a plain JSONPath (``$``, ``.name``, ``['key']``, ``[0]``), else None."""
    match = _PATH.fullmatch(path)
    if match is None:
        return None
    steps = match.group(1)
    return _steps(steps, _PATH_STEP, _NOT_KEYS)[0] if steps else ()
