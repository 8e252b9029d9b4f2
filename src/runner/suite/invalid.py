"""Pydantic's validation errors, mapped back onto the suite's file and line."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from runner.errors import SuiteError
from runner.suite.source import PathKey, SourceMap


def validation_error(exc: ValidationError, data: Any, source: SourceMap) -> SuiteError:
    """The first problem in file order, with every message pydantic gave for that key."""
    errors = exc.errors(include_url=False)
    paths = [_data_path(err, data) for err in errors]
    # an error on a container is mostly a consequence of one inside it (a union whose
    # every member failed, a list left too short): report the inner one
    containers = {path[:end] for path in paths for end in range(len(path))}
    kept = [i for i, path in enumerate(paths) if path not in containers]

    def rank(i: int) -> tuple[float, int]:
        line = source.line_of(paths[i])
        return (line if line is not None else float("inf"), i)

    first = min(kept, key=rank)
    path = paths[first]
    messages: list[str] = []
    for err, err_path in zip(errors, paths, strict=True):
        text = _describe(err)
        if err_path == path and text not in messages:
            messages.append(text)
    message = "; ".join(messages) + _shown_input(errors[first])
    others = len({paths[i] for i in kept} - {path})
    if others:
        message += f" (and {others} more error{'s' if others > 1 else ''})"
    return source.error(message, path)


def _data_path(err: Mapping[str, Any], data: Any) -> PathKey:
    """Keep the parts of a pydantic location that exist in the input.

    pydantic adds union members (``int``, ``StatusRange``) to locations; those are not
    keys anyone wrote. The key a ``missing`` error names is kept.
    """
    loc: tuple[str | int, ...] = err["loc"]
    out: list[str | int] = []
    current = data
    for part in loc:
        in_dict = isinstance(current, dict) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        if in_dict or in_list:
            current = current[part]
            out.append(part)
    if err["type"] == "missing" and loc:
        out.append(loc[-1])
    return tuple(out)


def _describe(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "missing required key"
    return str(err["msg"]).removeprefix("Value error, ")


def _shown_input(err: Mapping[str, Any]) -> str:
    if err["type"] in ("extra_forbidden", "missing"):
        return ""
    value = err.get("input")
    if not (isinstance(value, str | int | float | bool) or value is None):
        return ""
    shown = repr(value)
    return f" (got {shown if len(shown) <= 60 else shown[:57] + '...'})"


def kind_of(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"
