"""Where a suite was written: locations as keys and lines, and the loaded suite."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runner.errors import SuiteError
from runner.models import Suite

if TYPE_CHECKING:
    from runner.suite.credentials_lint import LiteralCredential

PathKey = tuple[str | int, ...]
"""A location in a suite: keys and list indices, as pydantic reports them."""

_PLAIN_KEY = re.compile(r"^[^.\[\]\"'\s]+$")


def format_key(path: Sequence[str | int]) -> str:
    """A location as users read it: ``tests[2].captures.token.path``."""
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _PLAIN_KEY.match(part):
            out.append(f".{part}" if out else part)
        else:
            out.append(f"[{json.dumps(part)}]")
    return "".join(out)


class LazyLines(Mapping[PathKey, int]):
    """A JSON suite's line map, composed on first use (only an error needs it)."""

    def __init__(self, compute: Callable[[], Mapping[PathKey, int]]) -> None:
        self._compute: Callable[[], Mapping[PathKey, int]] | None = compute
        self._lines: Mapping[PathKey, int] = {}

    @property
    def ready(self) -> bool:
        """Whether the map has been composed already (looking a line up is then free)."""
        return self._compute is None

    def _get(self) -> Mapping[PathKey, int]:
        if self._compute is not None:
            compute, self._compute = self._compute, None
            self._lines = compute()
        return self._lines

    def __getitem__(self, key: PathKey) -> int:
        return self._get()[key]

    def __iter__(self) -> Iterator[PathKey]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


@dataclass(frozen=True)
class SourceMap:
    """Where each key of a suite was written; empty for suites built in Python."""

    file: str | None
    lines: Mapping[PathKey, int] = field(default_factory=dict, repr=False)

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """Line of the key at ``path``, else of its nearest ancestor written in the file."""
        key = tuple(path)
        while True:
            line = self.lines.get(key)
            if line is not None or not key:
                return line
            key = key[:-1]

    def known_line_of(self, path: Sequence[str | int]) -> int | None:
        """Like :meth:`line_of`, but None rather than composing a JSON file's lines.

        Composing costs ~25x parsing the file; a warning names the key path anyway.
        """
        if isinstance(self.lines, LazyLines) and not self.lines.ready:
            return None
        return self.line_of(path)

    def error(self, message: str, path: Sequence[str | int] = ()) -> SuiteError:
        """A SuiteError pointing at ``path`` in this file."""
        return SuiteError(
            message, file=self.file, line=self.line_of(path), key=format_key(path) or None
        )


@dataclass(frozen=True)
class LoadedSuite:
    """A validated suite, where it was written, and the data rows of data-driven tests."""

    suite: Suite
    source: SourceMap
    rows: Mapping[str, tuple[dict[str, Any], ...]]
    credentials: tuple[LiteralCredential, ...] = ()
    """Credentials written literally in the suite (``runner.suite.credentials_lint``)."""
