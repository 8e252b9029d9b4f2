"""Load a suite from YAML or JSON (or wrap a Python-built one), keeping file:line for errors.

The file is composed into a YAML node tree first, so every key keeps the line it was
written on; pydantic's error locations are then mapped back onto those lines. JSON
is valid YAML, so the same composer gives JSON files their lines, while the values
come from the ``json`` module (YAML 1.1 reads ``1e3`` as text and rejects some JSON
escapes). Composing is by far the slowest step (~25x ``json.loads``), and a JSON
file's lines are only needed for an error, so they are composed on first use.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from runner.cli.tuning import paused_gc
from runner.errors import SuiteError
from runner.models import Suite

try:  # libyaml is several times faster on big suites; the pure-Python one is the fallback
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

PathKey = tuple[str | int, ...]
"""A location in a suite: keys and list indices, as pydantic reports them."""

_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_PLAIN_KEY = re.compile(r"^[^.\[\]\"'\s]+$")


class _SuiteYamlLoader(_BaseLoader):
    """Safe YAML whose plain scalars read like JSON's.

    YAML 1.1 turns ``yes``/``no``/``on``/``off`` into booleans and ``2024-01-01`` into a
    date; in a request body both are surprises (a date is not even JSON-serialisable),
    so only ``true``/``false`` are booleans here and dates stay strings.
    """


_SuiteYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL_TAG, _TIMESTAMP_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_SuiteYamlLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


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


def load_suite(path: str | Path) -> LoadedSuite:
    """Read, validate and check a suite file (YAML, or JSON when it ends in ``.json``)."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SuiteError("suite file not found", file=file) from None
    except IsADirectoryError:
        raise SuiteError("is a directory, not a suite file", file=file) from None
    except UnicodeDecodeError as exc:
        raise SuiteError(f"not UTF-8 text ({exc.reason})", file=file) from None
    except OSError as exc:
        raise SuiteError(f"cannot read the suite file: {exc.strerror}", file=file) from None
    return load_suite_text(text, file=file, base_dir=Path(path).parent)


def load_suite_text(text: str, *, file: str, base_dir: Path | None = None) -> LoadedSuite:
    """Like :func:`load_suite` for text already read (JSON when ``file`` ends in ``.json``).

    Data files are looked up under ``base_dir`` (the current directory if None).
    """
    with paused_gc():
        return _load_text(text, file, base_dir)


def _load_text(text: str, file: str, base_dir: Path | None) -> LoadedSuite:
    lines: Mapping[PathKey, int]
    if file.lower().endswith(".json"):
        data, lines = _parse_json(text, file)
    else:
        data, yaml_lines = _parse_yaml(text, file)
        lines = MappingProxyType(yaml_lines)
    source = SourceMap(file=file, lines=lines)
    if data is None:
        raise SuiteError("the file is empty; a suite needs at least 'name' and 'tests'", file=file)
    if not isinstance(data, dict):
        raise source.error(
            f"a suite must be a mapping with 'name' and 'tests', not {_kind(data)}", ()
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
        raise _validation_error(exc, data, source) from None
    suite = suite.model_copy(update={"source_path": file})
    return _finish(suite, source, base_dir or Path())


def loaded_from_suite(suite: Suite, base_dir: Path | None = None) -> LoadedSuite:
    """Check a suite built in Python and load its data files.

    Data files are relative to ``base_dir``, else to ``suite.source_path``'s folder,
    else to the current directory.
    """
    if base_dir is None:
        base_dir = Path(suite.source_path).parent if suite.source_path else Path()
    return _finish(suite, SourceMap(file=suite.source_path), base_dir)


# ------------------------------------------------------------------------ parsing


def _parse_yaml(text: str, file: str) -> tuple[Any, dict[PathKey, int]]:
    loader = _SuiteYamlLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, {}
        lines: dict[PathKey, int] = {(): root.start_mark.line + 1}
        _map_lines(loader, root, (), lines, file, set())
        return loader.construct_document(root), lines
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, file) from None
    except yaml.YAMLError as exc:  # unmarked: e.g. a character YAML forbids
        raise SuiteError(f"invalid YAML: {exc}", file=file) from None
    finally:
        loader.dispose()


class _LazyLines(Mapping[PathKey, int]):
    """A JSON suite's line map, composed on first use (only an error needs it)."""

    def __init__(self, compute: Callable[[], Mapping[PathKey, int]]) -> None:
        self._compute: Callable[[], Mapping[PathKey, int]] | None = compute
        self._lines: Mapping[PathKey, int] = {}

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


def _json_lines(text: str, file: str) -> dict[PathKey, int]:
    try:  # lines only; a JSON text YAML cannot read still loads, just without lines
        return _parse_yaml(text, file)[1]
    except SuiteError:
        return {}


def _parse_json(text: str, file: str) -> tuple[Any, Mapping[PathKey, int]]:
    if not text.strip():
        return None, {}
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except (json.JSONDecodeError, _DuplicateKeyError) as exc:
        # a key written twice is reported with its line, as the YAML composer finds it
        try:
            _parse_yaml(text, file)
        except _DuplicateKeySuiteError:
            raise
        except SuiteError:
            pass
        if isinstance(exc, json.JSONDecodeError):
            raise SuiteError(f"invalid JSON: {exc.msg}", file=file, line=exc.lineno) from None
        raise SuiteError(f"duplicate key {exc.key!r}", file=file) from None
    return data, _LazyLines(lambda: _json_lines(text, file))


class _DuplicateKeySuiteError(SuiteError):
    """A key written twice; the one YAML problem that is also a JSON problem."""


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)  # built in C; only a shorter dict means a key came twice
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(key)
            seen.add(key)
    return out


def _yaml_error(exc: yaml.MarkedYAMLError, file: str) -> SuiteError:
    mark = exc.problem_mark or exc.context_mark
    what = exc.problem or exc.context or "cannot parse"
    if exc.context and exc.problem:
        what = f"{exc.context}, {exc.problem}"
    return SuiteError(f"invalid YAML: {what}", file=file, line=mark.line + 1 if mark else None)


def _map_lines(
    loader: _SuiteYamlLoader,
    node: Node,
    path: PathKey,
    lines: dict[PathKey, int],
    file: str,
    active: set[int],
) -> None:
    """Record the line of every key under ``node``; reject keys written twice."""
    if id(node) in active:  # an alias pointing into its own anchor
        return
    active.add(id(node))
    if isinstance(node, MappingNode):
        own: dict[str | int, int] = {}
        merged: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.append(value_node)
                continue
            key = _key_of(loader, key_node)
            if key is None:
                continue
            line = key_node.start_mark.line + 1
            if key in own:
                raise _DuplicateKeySuiteError(
                    f"duplicate key {key!r} (first written at line {own[key]})",
                    file=file,
                    line=line,
                    key=format_key((*path, key)),
                )
            own[key] = line
        # merged keys first, so the mapping's own keys win exactly as in the constructed data
        for source in merged:
            targets = source.value if isinstance(source, SequenceNode) else [source]
            for target in targets:
                _map_lines(loader, target, path, lines, file, active)
        for key_node, value_node in node.value:
            key = None if key_node.tag == _MERGE_TAG else _key_of(loader, key_node)
            if key is not None:
                lines[(*path, key)] = key_node.start_mark.line + 1
                _map_lines(loader, value_node, (*path, key), lines, file, active)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _map_lines(loader, item, (*path, index), lines, file, active)
    active.discard(id(node))


def _key_of(loader: _SuiteYamlLoader, node: Node) -> str | int | None:
    if not isinstance(node, ScalarNode):
        return None  # a complex key; the constructor reports it if it matters
    if node.tag == _STR_TAG:
        return str(node.value)
    value = loader.construct_object(node)
    return value if isinstance(value, str | int) else str(value)


# --------------------------------------------------------------------- validation


def _validation_error(exc: ValidationError, data: Any, source: SourceMap) -> SuiteError:
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


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"


# ------------------------------------------------------------------ suite checks


def _finish(suite: Suite, source: SourceMap, base_dir: Path) -> LoadedSuite:
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
            table = _read_rows(base_dir / test.data, source, where)
        else:
            table = tuple(dict(row) for row in test.data)
        if not table:
            raise source.error(f"test {test.id!r} has no data rows", where)
        rows[test.id] = table
    return LoadedSuite(suite=suite, source=source, rows=MappingProxyType(rows))


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


def _read_rows(fixture: Path, source: SourceMap, where: PathKey) -> tuple[dict[str, Any], ...]:
    suffix = fixture.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise source.error(f"data file {fixture} must end in .csv or .json", where)
    try:
        text = fixture.read_text(encoding="utf-8-sig")
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
    if not isinstance(data, list):
        raise source.error(f"data file {fixture} must be a JSON list of objects", where)
    for position, row in enumerate(data):
        if not isinstance(row, dict):
            raise source.error(
                f"data file {fixture} must be a JSON list of objects "
                f"(item {position} is {_kind(row)})",
                where,
            )
    return tuple(data)
