"""What one template may cost, checked before the work it bounds.

A template is code from the suite file, and a few characters of it can ask for hours
of work or gigabytes (``{{ lipsum(10**6) }}``, ``{{ 'x' * 10**9 }}``, ``{{ 2 ** 10**9 }}``).
The limits below are checked twice:

* while rendering (``runner.templating.sandbox``), by the operators, ``range``,
  ``lipsum``, ``namespace`` and the output of each template; a violation is a
  ``LimitError``, which the renderer turns into a ``template`` error result;
* while planning (``violation``), for the expressions whose operands are constants:
  a template certain to break a limit stops the suite before anything runs. Folding
  the constants uses the same checks, so it never computes ``10 ** 10 ** 10`` either.
"""

from __future__ import annotations

import functools
import math
import operator
import re
from collections.abc import Callable, Iterable
from typing import Any

from jinja2 import nodes
from jinja2.utils import generate_lorem_ipsum

from runner.templating.refs import has_template, parse

MAX_OUTPUT = 1 << 20
"""Characters one template may render (1 MiB); also the longest string or list built."""
MAX_RANGE = 10_000
"""Items one ``range(...)`` may have (jinja2's own sandbox allows 100,000)."""
MAX_STEPS = 100_000
"""Calls plus range items one rendering may make (bounds nested loops and recursion)."""
MAX_INT_BITS = 4096
"""Bits an integer computed by ``*`` or ``**`` may have."""
MAX_LIPSUM_PARAGRAPHS = 100
"""Paragraphs ``lipsum(n)`` may make."""
MAX_LIPSUM_WORDS = 1000
"""Words a ``lipsum`` paragraph may have (its ``min`` and ``max``)."""

_SEQUENCES = (str, list, tuple)
# a %-format conversion's width and precision: ``%-08.3f``, ``%(name)*d``
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(\*|\d+)?(?:\.(\*|\d+))?")


class LimitError(Exception):
    """A template asked for more than a limit allows; the message says which limit."""


def _n(value: int) -> str:
    return f"{value:,}"


def _too_long(what: str, size: int, unit: str = "items") -> LimitError:
    return LimitError(f"{what} gives {_n(size)} {unit}, above the limit of {_n(MAX_OUTPUT)}")


def _unit(value: Any) -> str:
    return "characters" if isinstance(value, str) else "items"


def _check_mul(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, _SEQUENCES):
        left, right = right, left
    if isinstance(left, _SEQUENCES) and isinstance(right, int):
        size = len(left) * right
        if size > MAX_OUTPUT:
            what = f"a {type(left).__name__} of {_n(len(left))} * {_cut(right)}"
            raise _too_long(what, size, _unit(left))
    elif isinstance(left, int) and isinstance(right, int):
        bits = left.bit_length() + right.bit_length()
        if bits > MAX_INT_BITS:
            raise _too_big(f"{_cut(left)} * {_cut(right)}", bits)


def _check_pow(left: Any, right: Any) -> None:
    if not (isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1):
        return
    # checked before computing: 2 ** (10**9) would take minutes and 125 MB
    if right > MAX_INT_BITS or right * math.log2(abs(left)) > MAX_INT_BITS:
        try:
            bits = int(right * math.log2(abs(left)))
        except OverflowError:  # the exponent is too large for a float
            bits = right
        raise _too_big(f"{_cut(left)} ** {_cut(right)}", bits)


def _check_add(left: Any, right: Any) -> None:
    if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        size = len(left) + len(right)
        if size > MAX_OUTPUT:
            raise _too_long(f"{type(left).__name__} + {type(right).__name__}", size, _unit(left))


def _check_mod(left: Any, right: Any) -> None:
    if not isinstance(left, str) or "%" not in left:
        return
    starred = False
    for spec in _PERCENT_SPEC.finditer(left):
        for number in spec.groups():
            if number == "*":
                starred = True
            elif number is not None and len(number) > 6 and int(number) > MAX_OUTPUT:
                raise LimitError(
                    f"format width {_n(int(number))} is above the limit of {_n(MAX_OUTPUT)}"
                )
    args = right if isinstance(right, tuple) else (right,)
    if starred and any(isinstance(a, int) and abs(a) > MAX_OUTPUT for a in args):
        raise LimitError(f"a format width is above the limit of {_n(MAX_OUTPUT)}")


def _too_big(what: str, bits: int) -> LimitError:
    return LimitError(f"{what} has about {_n(bits)} bits, above the limit of {_n(MAX_INT_BITS)}")


def _cut(value: int) -> str:
    return str(value) if value.bit_length() < 64 else f"<{_n(value.bit_length())}-bit integer>"


CHECKS: dict[str, Callable[[Any, Any], None]] = {
    "*": _check_mul,
    "**": _check_pow,
    "+": _check_add,
    "%": _check_mod,
}
"""The binary operators checked, by jinja2's name of them."""
_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "*": operator.mul,
    "**": operator.pow,
    "+": operator.add,
    "%": operator.mod,
    "-": operator.sub,
    "/": operator.truediv,
    "//": operator.floordiv,
}


def binop(name: str, left: Any, right: Any) -> Any:
    """``left <name> right``, refused with ``LimitError`` if the result would be too large."""
    check = CHECKS.get(name)
    if check is not None:
        check(left, right)
    return _OPERATORS[name](left, right)


def checked_range(*args: int) -> range:
    """``range(*args)``, refused when it has more than ``MAX_RANGE`` items."""
    items = range(*args)
    try:
        size = len(items)
    except OverflowError:  # more than sys.maxsize items
        size = MAX_RANGE + 1
    if size > MAX_RANGE:
        shown = ", ".join(_cut(a) if isinstance(a, int) else repr(a) for a in args)
        raise LimitError(f"range({shown}) is above the limit of {_n(MAX_RANGE)} items")
    return items


def check_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> None:
    """Refuse ``lipsum`` arguments above the paragraph and word limits."""
    if isinstance(n, int) and n > MAX_LIPSUM_PARAGRAPHS:
        raise LimitError(
            f"lipsum({_cut(n)}) is above the limit of {_n(MAX_LIPSUM_PARAGRAPHS)} paragraphs"
        )
    for name, words in (("min", min), ("max", max)):
        if isinstance(words, int) and words > MAX_LIPSUM_WORDS:
            raise LimitError(
                f"lipsum({name}={_cut(words)}) is above the limit of "
                f"{_n(MAX_LIPSUM_WORDS)} words a paragraph"
            )


def lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    """jinja2's ``lipsum`` within ``MAX_LIPSUM_PARAGRAPHS`` and ``MAX_LIPSUM_WORDS``."""
    check_lipsum(n, html, min, max)
    return generate_lorem_ipsum(n=n, html=html, min=min, max=max)


def check_output(size: int) -> None:
    """Refuse a rendering once it is longer than ``MAX_OUTPUT``."""
    if size > MAX_OUTPUT:
        raise LimitError(f"template output exceeds {MAX_OUTPUT >> 20} MiB")


def check_join(size: int) -> None:
    """Refuse ``a ~ b`` longer than ``MAX_OUTPUT``."""
    if size > MAX_OUTPUT:
        raise _too_long("joining with ~", size, "characters")


def joined(chunks: Iterable[str]) -> str:
    """The chunks of a rendering joined, stopping as soon as they pass ``MAX_OUTPUT``."""
    out: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_OUTPUT:
            check_output(size)
        out.append(chunk)
    return "".join(out)


# ------------------------------------------------------------------ plan time

# what a template needs to hold for a constant to break a limit; others are not parsed.
# Without a ``(`` or a ``*`` it holds none (the plan checks that first, for speed);
# ``%`` formats are left to rendering, as URLs are full of ``%20``.
_SUSPECTS = re.compile(r"\*|range|lipsum")
_UNKNOWN: Any = object()
_CALLS: dict[str, Callable[..., Any]] = {"range": checked_range, "lipsum": check_lipsum}
_BINOPS = {
    nodes.Mul: "*",
    nodes.Pow: "**",
    nodes.Add: "+",
    nodes.Mod: "%",
    nodes.Sub: "-",
    nodes.Div: "/",
    nodes.FloorDiv: "//",
}


def violation(source: str) -> str | None:
    """Why a template is certain to break a limit, from its constant expressions; else None.

    ``lipsum(10**6)``, ``range(10**7)``, ``'x' * 10**9``, ``2 ** (10**9)``: calls of
    ``range`` and ``lipsum`` and the operators ``*`` and ``**`` whose operands are
    constants (literals, or folded from literals within the limits). Raises
    ``jinja2.TemplateSyntaxError``.
    """
    if _SUSPECTS.search(source) is None or not has_template(source):
        return None
    return _violation(source)


@functools.lru_cache(maxsize=1 << 12)  # a suite repeats its templates from test to test
def _violation(source: str) -> str | None:
    tree = parse(source)
    # a template that binds the name itself (``{% set range = ... %}``) means its own
    shadowed = {
        name.name
        for name in tree.find_all(nodes.Name)
        if isinstance(name, nodes.Name) and name.ctx != "load"
    }
    folded: dict[int, Any] = {}
    try:
        for node in tree.find_all((nodes.BinExpr, nodes.Call)):
            _fold(node, folded, shadowed)
    except LimitError as exc:
        return str(exc)
    return None


def _fold(node: nodes.Node, folded: dict[int, Any], shadowed: set[str]) -> Any:
    """The constant value of an expression, or ``_UNKNOWN``; raises ``LimitError``."""
    if isinstance(node, nodes.Const):
        return node.value
    key = id(node)
    if key in folded:
        return folded[key]
    value = _UNKNOWN
    if isinstance(node, nodes.BinExpr) and type(node) in _BINOPS:
        left = _fold(node.left, folded, shadowed)
        right = _fold(node.right, folded, shadowed)
        if left is not _UNKNOWN and right is not _UNKNOWN:
            try:
                value = binop(_BINOPS[type(node)], left, right)
            except (ArithmeticError, TypeError, ValueError):
                value = _UNKNOWN  # the renderer words that one
    elif isinstance(node, nodes.Neg):
        operand = _fold(node.node, folded, shadowed)
        if isinstance(operand, int | float):
            value = -operand
    elif isinstance(node, nodes.Tuple | nodes.List):
        items = [_fold(item, folded, shadowed) for item in node.items]
        if _UNKNOWN not in items:
            value = tuple(items) if isinstance(node, nodes.Tuple) else items
    elif isinstance(node, nodes.Call):
        value = _fold_call(node, folded, shadowed)
    folded[key] = value
    return value


def _fold_call(node: nodes.Call, folded: dict[int, Any], shadowed: set[str]) -> Any:
    if not isinstance(node.node, nodes.Name) or node.dyn_args or node.dyn_kwargs:
        return _UNKNOWN
    call = _CALLS.get(node.node.name)
    if call is None or node.node.name in shadowed:
        return _UNKNOWN
    args = [_fold(arg, folded, shadowed) for arg in node.args]
    kwargs = {kw.key: _fold(kw.value, folded, shadowed) for kw in node.kwargs}
    if _UNKNOWN in args or _UNKNOWN in kwargs.values():
        return _UNKNOWN
    try:
        value = call(*args, **kwargs)  # range is folded to its (small) range object
    except (TypeError, ValueError):
        return _UNKNOWN
    return _UNKNOWN if value is None else value
