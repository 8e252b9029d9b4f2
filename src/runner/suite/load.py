"""Load a suite from YAML or JSON (or wrap a Python-built one), keeping file:line for errors.

The file is composed into a YAML node tree first, so every key keeps the line it was
written on (``runner.suite.parse``); pydantic's error locations are then mapped back
onto those lines (``runner.suite.invalid``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from runner.errors import SuiteError
from runner.models import Suite
from runner.settings import DEFAULT_MAX_SUITE_BYTES
from runner.suite.credentials_lint import literal_credentials
from runner.suite.invalid import kind_of, validation_error
from runner.suite.limits import FileTooLargeError, read_text_capped
from runner.suite.parse import parse_json, parse_yaml
from runner.suite.rows import read_rows
from runner.suite.source import LoadedSuite, PathKey, SourceMap, format_key

_log = logging.getLogger("runner.suite")

WARNED_CREDENTIALS = 5
"""Literal credentials warned about one by one; the rest are counted in one line."""

__all__ = [
    "LoadedSuite",
    "PathKey",
    "SourceMap",
    "format_key",
    "load_suite",
    "load_suite_text",
    "loaded_from_suite",
]


def load_suite(path: str | Path, *, max_bytes: int = DEFAULT_MAX_SUITE_BYTES) -> LoadedSuite:
    """Read, validate and check a suite file (YAML, or JSON when it ends in ``.json``).

    A suite file or data file bigger than ``max_bytes`` is an error (``RUNNER_MAX_SUITE_BYTES``).
    """
    file = str(path)
    try:
        text = read_text_capped(Path(path), max_bytes)
    except FileTooLargeError as exc:
        raise SuiteError(str(exc), file=file) from None
    except FileNotFoundError:
        raise SuiteError("suite file not found", file=file) from None
    except IsADirectoryError:
        raise SuiteError("is a directory, not a suite file", file=file) from None
    except UnicodeDecodeError as exc:
        raise SuiteError(f"not UTF-8 text ({exc.reason})", file=file) from None
    except OSError as exc:
        raise SuiteError(f"cannot read the suite file: {exc.strerror}", file=file) from None
    return _load_text(text, file, Path(path).parent, max_bytes)


def load_suite_text(
    text: str,
    *,
    file: str,
    base_dir: Path | None = None,
    max_bytes: int = DEFAULT_MAX_SUITE_BYTES,
) -> LoadedSuite:
    """Like :func:`load_suite` for text already read (JSON when ``file`` ends in ``.json``).

    Data files are looked up under ``base_dir`` (the current directory if None).
    """
    if len(text) > max_bytes:  # characters: at least as many bytes
        raise SuiteError(str(FileTooLargeError(len(text), max_bytes)), file=file)
    return _load_text(text, file, base_dir, max_bytes)


def _load_text(text: str, file: str, base_dir: Path | None, max_bytes: int) -> LoadedSuite:
    lines: Mapping[PathKey, int]
    if file.lower().endswith(".json"):
        data, lines = parse_json(text, file)
    else:
        data, yaml_lines = parse_yaml(text, file)
        lines = MappingProxyType(yaml_lines)
    source = SourceMap(file=file, lines=lines)
    if data is None:
        raise SuiteError("the file is empty; a suite needs at least 'name' and 'tests'", file=file)
    if not isinstance(data, dict):
        raise source.error(
            f"a suite must be a mapping with 'name' and 'tests', not {kind_of(data)}", ()
        )
    if isinstance(data.get("$schema"), str):
        # editors find the JSON Schema through this key; it is not part of the suite
        data = {key: value for key, value in data.items() if key != "$schema"}
    if "source_path" in data:
        # the loader sets it from the file's own path; the schema does not list it
        raise source.error("unknown key", ("source_path",))
    try:
        suite = Suite.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, data, source) from None
    suite = suite.model_copy(update={"source_path": file})
    return _finish(suite, source, base_dir or Path(), max_bytes)


def loaded_from_suite(
    suite: Suite, base_dir: Path | None = None, *, max_bytes: int = DEFAULT_MAX_SUITE_BYTES
) -> LoadedSuite:
    """Check a suite built in Python and load its data files (each up to ``max_bytes``).

    Data files are relative to ``base_dir``, else to ``suite.source_path``'s folder,
    else to the current directory.
    """
    if base_dir is None:
        base_dir = Path(suite.source_path).parent if suite.source_path else Path()
    return _finish(suite, SourceMap(file=suite.source_path), base_dir, max_bytes)


def _finish(suite: Suite, source: SourceMap, base_dir: Path, max_bytes: int) -> LoadedSuite:
    _check_ids(suite, source)
    if suite.default_env is not None and suite.default_env not in suite.environments:
        known = ", ".join(sorted(suite.environments)) or "none are defined"
        raise source.error(
            f"{suite.default_env!r} is not an environment of this suite ({known})",
            ("default_env",),
        )
    rows: dict[str, tuple[dict[str, Any], ...]] = {}
    for index, test in enumerate(suite.tests):
        if test.data is None:
            continue
        where: PathKey = ("tests", index, "data")
        if isinstance(test.data, str):
            table = read_rows(base_dir / test.data, source, where, max_bytes)
        else:
            table = tuple(dict(row) for row in test.data)
        if not table:
            raise source.error(f"test {test.id!r} has no data rows", where)
        rows[test.id] = table
    credentials = literal_credentials(suite, source)
    for found in credentials[:WARNED_CREDENTIALS]:
        _log.warning("%s", found.warning())
    if len(credentials) > WARNED_CREDENTIALS:
        more = len(credentials) - WARNED_CREDENTIALS
        _log.warning("%s: %d more literal credentials, redacted the same way", source.file, more)
    return LoadedSuite(
        suite=suite, source=source, rows=MappingProxyType(rows), credentials=credentials
    )


def _check_ids(suite: Suite, source: SourceMap) -> None:
    first_at: dict[str, int] = {}
    for index, test in enumerate(suite.tests):
        earlier = first_at.setdefault(test.id, index)
        if earlier != index:
            line = source.line_of(("tests", earlier, "id"))
            seen = f"line {line}" if line else f"tests[{earlier}]"
            raise source.error(
                f"duplicate test id {test.id!r} (first used at {seen})", ("tests", index, "id")
            )
