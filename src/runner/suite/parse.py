"""Parsing suite text: YAML through a composer that keeps each key's line, JSON through ``json``.

JSON is valid YAML, so the same composer gives JSON files their lines, while the values
come from the ``json`` module (YAML 1.1 reads ``1e3`` as text and rejects some JSON
escapes). Composing is by far the slowest step (~25x ``json.loads``), and a JSON
file's lines are only needed for an error, so they are composed on first use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from runner.errors import SuiteError
from runner.suite.source import PathKey, format_key

try:  # libyaml is several times faster on big suites; the pure-Python one is the fallback
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


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


def parse_yaml(text: str, file: str) -> tuple[Any, dict[PathKey, int]]:
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
        return parse_yaml(text, file)[1]
    except SuiteError:
        return {}


def parse_json(text: str, file: str) -> tuple[Any, Mapping[PathKey, int]]:
    if not text.strip():
        return None, {}
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except (json.JSONDecodeError, _DuplicateKeyError) as exc:
        # a key written twice is reported with its line, as the YAML composer finds it
        try:
            parse_yaml(text, file)
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
