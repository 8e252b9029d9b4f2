"""Data rows of data-driven tests: inline, or from a CSV or JSON file next to the suite."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from runner.suite.invalid import kind_of
from runner.suite.limits import (
    MAX_DEPTH,
    FileTooLargeError,
    json_line_too_deep,
    read_text_capped,
    within_depth,
)
from runner.suite.source import PathKey, SourceMap


def read_rows(
    fixture: Path, source: SourceMap, where: PathKey, max_bytes: int
) -> tuple[dict[str, Any], ...]:
    suffix = fixture.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise source.error(f"data file {fixture} must end in .csv or .json", where)
    try:
        text = read_text_capped(fixture, max_bytes)
    except FileTooLargeError as exc:
        raise source.error(f"data file {fixture}: {exc}", where) from None
    except FileNotFoundError:
        raise source.error(f"data file {fixture} not found", where) from None
    except UnicodeDecodeError as exc:
        raise source.error(f"data file {fixture} is not UTF-8 ({exc.reason})", where) from None
    except OSError as exc:
        raise source.error(f"cannot read data file {fixture}: {exc.strerror}", where) from None
    if suffix == ".csv":
        return _csv_rows(text, fixture, source, where)
    return _json_rows(text, fixture, source, where)


def _csv_rows(
    text: str, fixture: Path, source: SourceMap, where: PathKey
) -> tuple[dict[str, Any], ...]:
    # values stay strings: a CSV cell has no type, and guessing one loses zip codes' zeros
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        columns = reader.fieldnames
        if not columns:
            raise source.error(f"data file {fixture} is empty (it needs a header row)", where)
        if len(set(columns)) != len(columns):
            raise source.error(f"data file {fixture}:1: a column name is repeated", where)
        rows: list[dict[str, Any]] = []
        for row in reader:
            if None in row or None in row.values():
                raise source.error(
                    f"data file {fixture}:{reader.line_num}: "
                    f"a row needs exactly {len(columns)} values, like the header",
                    where,
                )
            rows.append(dict(row))
    except csv.Error as exc:
        raise source.error(f"data file {fixture}:{reader.line_num}: {exc}", where) from None
    return tuple(rows)


def _json_rows(
    text: str, fixture: Path, source: SourceMap, where: PathKey
) -> tuple[dict[str, Any], ...]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise source.error(
            f"data file {fixture}:{exc.lineno}: invalid JSON: {exc.msg}", where
        ) from None
    except RecursionError:
        data = None  # reported below, with the line, like a merely deep file
    if data is None or not within_depth(data):
        line = json_line_too_deep(text)
        if line is not None:
            raise source.error(
                f"data file {fixture}:{line}: nested deeper than {MAX_DEPTH} levels", where
            )
    if not isinstance(data, list):
        raise source.error(f"data file {fixture} must be a JSON list of objects", where)
    for position, row in enumerate(data):
        if not isinstance(row, dict):
            raise source.error(
                f"data file {fixture} must be a JSON list of objects "
                f"(item {position} is {kind_of(row)})",
                where,
            )
    return tuple(data)
