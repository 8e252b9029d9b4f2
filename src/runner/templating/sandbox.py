"""The jinja2 sandbox templates run in, with the limits of ``runner.templating.limits``.

jinja2's ``ImmutableSandboxedEnvironment`` keeps templates from reaching Python's
internals and from changing the run's context; this one also keeps them from asking
for unbounded work:

* ``*``, ``**``, ``+`` and ``%`` go through ``call_binop`` (jinja2's intercepted
  binary operators), which refuses a result above the limits before computing it;
  intercepted, they are no longer folded while compiling either;
* ``~`` joins through the same output check;
* ``range`` and ``lipsum`` are capped; ``namespace`` attributes are checked like
  ``~`` results (a loop could otherwise double a string in one);
* the ``center``, ``indent``, ``format``, ``batch`` and ``slice`` filters refuse
  widths and counts that would build more than the output limit;
* every call and every range item counts against ``MAX_STEPS`` per rendering
  (``start`` resets it), which bounds nested loops and recursive macros.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.exceptions import SecurityError
from jinja2.filters import do_batch, do_center, do_format, do_indent, sync_do_slice
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

from runner.templating import limits
from runner.templating.limits import MAX_OUTPUT, MAX_STEPS, LimitError

_CHECKS = limits.CHECKS


class LimitedEnvironment(ImmutableSandboxedEnvironment):
    """An immutable jinja2 sandbox in which every template's cost is bounded."""

    intercepted_binops = frozenset(limits.CHECKS)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.code_generator_class = _CodeGenerator
        self.globals.update(range=self._range, lipsum=limits.lipsum, namespace=_Namespace)
        self.filters.update(
            center=_center, indent=_indent, format=_format, batch=_batch, slice=_slice
        )
        self.steps = MAX_STEPS

    def start(self) -> None:
        """Give the next rendering its own budget of steps."""
        self.steps = MAX_STEPS

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _CHECKS[operator](left, right)  # limits.binop, one call less
        return self.binop_table[operator](left, right)

    def call(
        __self,
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        __self.steps -= 1
        if __self.steps < 0:
            __self._out_of_steps()
        # jinja2's own check, inlined: this is on the path of every call a template makes
        if not __self.is_safe_callable(__obj):
            raise SecurityError(f"{__obj!r} is not safely callable")
        return __context.call(__obj, *args, **kwargs)

    def join_checked(self, parts: tuple[Any, ...]) -> str:
        """What ``a ~ b`` gives, refused above the output limit before it is built."""
        strings = [part if type(part) is str else str(part) for part in parts]
        limits.check_join(sum(map(len, strings)))
        return "".join(strings)

    def _range(self, *args: int) -> range:
        items = limits.checked_range(*args)
        self.steps -= len(items)
        if self.steps < 0:
            self._out_of_steps()
        return items

    def _out_of_steps(self) -> None:
        raise LimitError(
            f"template makes more than {MAX_STEPS:,} calls and range items (nested loops?)"
        )


class _CodeGenerator(CodeGenerator):
    """jinja2's code generator, with ``~`` joined by ``LimitedEnvironment.join_checked``."""

    @optimizeconst  # literals are joined while compiling, as jinja2 does
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile or frame.eval_ctx.autoescape:
            super().visit_Concat(node, frame)  # escaping markup: not our templates
            return
        self.write("environment.join_checked((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _Namespace(Namespace):
    """``namespace()`` whose attributes are no longer than the output limit."""

    def __setitem__(self, name: str, value: Any) -> None:
        if isinstance(value, str | list | tuple) and len(value) > MAX_OUTPUT:
            raise LimitError(
                f"namespace attribute {name!r} of {len(value):,} items is above "
                f"the limit of {MAX_OUTPUT:,}"
            )
        super().__setitem__(name, value)


def _at_most(what: str, size: int) -> None:
    if size > MAX_OUTPUT:
        raise LimitError(f"{what} gives {size:,} items, above the limit of {MAX_OUTPUT:,}")


def _center(value: Any, width: int = 80) -> str:
    if isinstance(width, int):
        _at_most(f"center({width})", width)
    return do_center(value, width)


def _indent(s: str, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    text = str(s)
    pad = width if isinstance(width, int) else len(str(width))
    _at_most(f"indent({pad})", len(text) + pad * (text.count("\n") + 1))
    return do_indent(s, width, first, blank)


def _format(value: str, *args: Any, **kwargs: Any) -> str:
    limits.CHECKS["%"](value, args)
    return do_format(value, *args, **kwargs)


def _count_checked(name: str, filter_: Callable[..., Any]) -> Callable[..., Any]:
    def checked(value: Any, count: int, fill_with: Any = None) -> Any:
        if isinstance(count, int):
            _at_most(f"{name}({count})", count)
        return filter_(value, count, fill_with)

    checked.__name__ = name
    return checked


_batch = _count_checked("batch", do_batch)
_slice = _count_checked("slice", sync_do_slice)
