"""Bounds on what a suite file may cost to read: size, nesting depth, alias expansion.

A hostile (or broken) file must fail as one ``SuiteError`` naming file:line, never as a
``MemoryError`` or ``RecursionError``:

- size: the file is measured before it is read, and read with a cap (a FIFO or a file
  that grows still stops at ``max_bytes``);
- depth: no mapping or list nested deeper than ``MAX_DEPTH`` (libyaml stops at 1,000
  itself; ``json.loads`` raises ``RecursionError`` near the interpreter's limit, and
  everything after loading walks suites recursively);
- aliases: YAML anchors may be reused, but the nodes reached through them are budgeted
  (``node_budget``), so a few hundred bytes cannot expand into billions of values.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from runner.errors import SuiteError

MAX_DEPTH = 100
"""Deepest nesting of mappings and lists (the suite itself is level 1)."""

ALIAS_ALLOWANCE = 100_000
"""Nodes aliases may add beyond one per character of the file (see ``node_budget``)."""

_MIB = 1024 * 1024


class FileTooLargeError(Exception):
    """A file is bigger than the configured limit (reported by the caller with its name)."""

    def __init__(self, size: int | None, limit: int) -> None:
        self.size = size
        self.limit = limit
        shown = "more" if size is None else f"{describe_bytes(size)}, more"
        super().__init__(
            f"the file is {shown} than RUNNER_MAX_SUITE_BYTES ({describe_bytes(limit)})"
        )


def describe_bytes(count: int) -> str:
    """``52428800`` -> ``50 MiB``; small sizes in bytes."""
    if count >= _MIB:
        value = count / _MIB
        return f"{value:.0f} MiB" if value == int(value) else f"{value:.1f} MiB"
    return f"{count} bytes"


def read_text_capped(path: Path, max_bytes: int) -> str:
    """The file's UTF-8 text; ``FileTooLargeError`` past ``max_bytes`` without reading it all.

    Raises what ``open`` and decoding raise (``FileNotFoundError``, ``UnicodeDecodeError``...).
    """
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > max_bytes:
            raise FileTooLargeError(size, max_bytes)
        data = handle.read(max_bytes + 1)  # a FIFO or /dev/zero reports size 0
    if len(data) > max_bytes:
        raise FileTooLargeError(None, max_bytes)
    return data.decode("utf-8-sig")


def node_budget(text: str) -> int:
    """How many nodes a YAML text may reach, aliases expanded.

    A node takes at least one character, so a file without aliases always fits; aliases
    may add ``ALIAS_ALLOWANCE`` more (merge keys and shared defaults stay usable).
    """
    return len(text) + ALIAS_ALLOWANCE


def alias_error(file: str, line: int | None, budget: int) -> SuiteError:
    return SuiteError(
        f"aliases expand to more than {budget:,} values (an alias bomb?); "
        "write the repeated parts out or reuse fewer anchors",
        file=file,
        line=line,
    )


def depth_error(file: str, line: int | None, what: str = "") -> SuiteError:
    return SuiteError(
        f"{what}nested deeper than {MAX_DEPTH} levels of mappings and lists",
        file=file,
        line=line,
    )


def within_depth(data: Any, limit: int = MAX_DEPTH) -> bool:
    """True when no dict or list in ``data`` is nested deeper than ``limit`` (iterative)."""
    level = [data] if type(data) in (dict, list) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return False
        deeper: list[Any] = []
        extend = deeper.extend
        for node in level:
            values = node.values() if type(node) is dict else node
            extend([value for value in values if type(value) in (dict, list)])
        level = deeper
    return True


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def json_line_too_deep(text: str, limit: int = MAX_DEPTH) -> int | None:
    """The line of the first JSON container opened deeper than ``limit``, if any."""
    depth = 0
    for token in _JSON_TOKEN.finditer(text):
        char = token.group()[0]
        if char in "[{":
            depth += 1
            if depth > limit:
                return text.count("\n", 0, token.start()) + 1
        elif char in "]}":
            depth -= 1
    return None
