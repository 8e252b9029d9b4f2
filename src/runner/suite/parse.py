"""Parsing suite text: YAML through a composer that keeps each key's line, JSON through ``json``.

JSON is valid YAML, so the same composer gives JSON files their lines, while the values
come from the ``json`` module (YAML 1.1 reads ``1e3`` as text and rejects some JSON
escapes). Composing is by far the slowest step (~25x ``json.loads``), and a JSON
file's lines are only needed for an error, so they are composed on first use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from runner.errors import SuiteError
from runner.suite.limits import (
    MAX_DEPTH,
    alias_error,
    depth_error,
    json_line_too_deep,
    node_budget,
    within_depth,
)
from runner.suite.source import LazyLines, PathKey, format_key

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
        # bounds depth and alias expansion, so constructing (and validating) is bounded too
        _LineMapper(loader, file, node_budget(text), lines).walk(root, ())
        return loader.construct_document(root), lines
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, file) from None
    except yaml.YAMLError as exc:  # unmarked: e.g. a character YAML forbids
        raise SuiteError(f"invalid YAML: {exc}", file=file) from None
    except RecursionError:  # pragma: no cover - the pure-Python composer; libyaml stops at 1,000
        raise depth_error(file, None) from None
    finally:
        loader.dispose()


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
    except RecursionError:  # the C scanner stops near the interpreter's recursion limit
        raise depth_error(file, json_line_too_deep(text)) from None
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
    if not within_depth(data):
        raise depth_error(file, json_line_too_deep(text))
    return data, LazyLines(lambda: _json_lines(text, file))


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


class _LineMapper:
    """Records the line of every key; rejects keys written twice, deep nesting, alias bombs.

    Aliases are walked as if written out (their keys get lines under each path that
    reaches them), so every node reached counts against ``budget``.
    """

    def __init__(
        self, loader: _SuiteYamlLoader, file: str, budget: int, lines: dict[PathKey, int]
    ) -> None:
        self.loader = loader
        self.file = file
        self.budget = budget
        self.left = budget
        self.lines = lines
        self.active: set[int] = set()

    def walk(self, node: Node, path: PathKey) -> None:
        """Map ``node`` (at ``path``) and everything under it."""
        if id(node) in self.active:  # no JSON value contains itself
            raise SuiteError(
                "an alias refers to its own anchor (a value cannot contain itself)",
                file=self.file,
                line=self.lines.get(path, node.start_mark.line + 1),
            )
        self.left -= 1
        if self.left < 0:
            # anchors come before their aliases: the latest line on the path is where the
            # expansion happens (a sequence item reached through an alias has its anchor's)
            where = max(self.lines.get(path[:end], 0) for end in range(len(path) + 1))
            raise alias_error(self.file, where or None, self.budget)
        if isinstance(node, MappingNode | SequenceNode) and len(path) >= MAX_DEPTH:
            raise depth_error(self.file, node.start_mark.line + 1)
        self.active.add(id(node))
        if isinstance(node, MappingNode):
            self._mapping(node, path)
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                self.lines[(*path, index)] = item.start_mark.line + 1
                self.walk(item, (*path, index))
        self.active.discard(id(node))

    def _mapping(self, node: MappingNode, path: PathKey) -> None:
        own: dict[str | int, int] = {}
        merged: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.append(value_node)
                continue
            key = _key_of(self.loader, key_node)
            if key is None:
                continue
            line = key_node.start_mark.line + 1
            if key in own:
                raise _DuplicateKeySuiteError(
                    f"duplicate key {key!r} (first written at line {own[key]})",
                    file=self.file,
                    line=line,
                    key=format_key((*path, key)),
                )
            own[key] = line
        # merged keys first, so the mapping's own keys win exactly as in the constructed data
        for source in merged:
            targets = source.value if isinstance(source, SequenceNode) else [source]
            for target in targets:
                self.walk(target, path)
        for key_node, value_node in node.value:
            key = None if key_node.tag == _MERGE_TAG else _key_of(self.loader, key_node)
            if key is not None:
                self.lines[(*path, key)] = key_node.start_mark.line + 1
                self.walk(value_node, (*path, key))


def _key_of(loader: _SuiteYamlLoader, node: Node) -> str | int | None:
    if not isinstance(node, ScalarNode):
        return None  # a complex key; the constructor reports it if it matters
    if node.tag == _STR_TAG:
        return str(node.value)
    value = loader.construct_object(node)
    return value if isinstance(value, str | int) else str(value)
