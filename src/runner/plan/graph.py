"""Turn a loaded suite into a dependency graph and a run order, or say why it cannot run.

Edges come from ``depends_on`` and from the templates themselves: a test whose request
says ``{{ captured_data.login.token }}`` runs after ``login``. Every problem (a cycle, an
unknown test, a capture nobody makes, a disabled producer) is raised here, with file and
line, before any request is sent.
"""

from __future__ import annotations

import difflib
import functools
import heapq
import re
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, get_args

import jinja2
from jinja2 import nodes

from runner.cli.tuning import paused_gc
from runner.errors import PlanError
from runner.models import Suite, TestSpec, ValueCheck
from runner.suite.load import LoadedSuite, PathKey, format_key

if TYPE_CHECKING:
    import networkx as nx

ReferenceKind = Literal["captured_data", "shared_auth_tokens", "shared_variables"]
_KINDS: frozenset[str] = frozenset(get_args(ReferenceKind))


class Reference(NamedTuple):
    """One use of shared state in a template: ``captured_data.login.token`` and the like."""

    kind: ReferenceKind
    name: str
    attr: str | None = None


# ------------------------------------------------------------------ templates

# Parsing with jinja2 costs ~75 µs a string, too much for 100k distinct URLs, so templates
# made only of text and ``{{ name.attr['key'] }}`` blocks are read with these patterns;
# anything else goes to jinja2. A test checks both readings agree.
_BLOCK = re.compile(r"\{\{(.*?)\}\}", re.S)
_KEY = r"'[^'\\{}\[\]]*'|\"[^\"\\{}\[\]]*\"|\d+"
_SIMPLE = re.compile(
    rf"\s*([A-Za-z_]\w*)((?:\s*(?:\.\s*[A-Za-z_]\w*|\[\s*(?:{_KEY})\s*\]))*)\s*", re.A
)
_ACCESS = re.compile(rf"\.\s*([A-Za-z_]\w*)|\[\s*({_KEY})\s*\]", re.A)
_ENV = jinja2.Environment(autoescape=False)  # noqa: S701 - parsed, never rendered
_NO_REFERENCES: frozenset[Reference] = frozenset()
# jinja2 reads ``x.items`` as the mapping's method, not its key, and so does the renderer
_DICT_ATTRIBUTES = frozenset(dir(dict))


def template_references(source: str) -> set[Reference]:
    """The shared state a jinja2 template reads (raises ``jinja2.TemplateSyntaxError``).

    Only constant keys count: ``captured_data[row.test]`` is not a reference anyone
    can resolve before the run.
    """
    return set(_references(source))


@functools.lru_cache(maxsize=1 << 17)
def _references(source: str) -> frozenset[Reference]:
    if "{{" not in source and "{%" not in source and "{#" not in source:
        return _NO_REFERENCES
    simple = _simple_references(source)
    return simple if simple is not None else _parsed_references(source)


def _simple_references(source: str) -> frozenset[Reference] | None:
    if "{%" in source or "{#" in source:
        return None
    found: set[Reference] = set()
    end = 0
    for block in _BLOCK.finditer(source):
        end = block.end()
        expr = _SIMPLE.fullmatch(block.group(1))
        if expr is None:
            return None
        keys: list[str | int | None] = []
        for access in _ACCESS.finditer(expr.group(2)):
            attr, key = access.groups()
            if attr is not None:
                keys.append(None if attr in _DICT_ATTRIBUTES else attr)
            elif key[0] in "'\"":
                keys.append(key[1:-1])
            else:
                keys.append(int(key))
        _add_reference(found, expr.group(1), keys)
    if "{{" in source[end:]:
        return None  # an unclosed block: let jinja2 word the syntax error
    return frozenset(found)


def _parsed_references(source: str) -> frozenset[Reference]:
    tree = _ENV.parse(source)
    called = {id(call.node) for call in tree.find_all(nodes.Call)}
    accesses = [
        access
        for access in tree.find_all((nodes.Getattr, nodes.Getitem))
        if isinstance(access, nodes.Getattr | nodes.Getitem)
    ]
    inner = {id(access.node) for access in accesses}
    found: set[Reference] = set()
    for outer in accesses:
        if id(outer) in inner:
            continue  # part of a longer chain, read from its outermost access
        chain: list[nodes.Getattr | nodes.Getitem] = []
        node: nodes.Node = outer
        while isinstance(node, nodes.Getattr | nodes.Getitem):
            chain.append(node)
            node = node.node
        if not isinstance(node, nodes.Name):
            continue
        chain.reverse()
        # a called access is a method of the mapping (``.get('x')``), not a key
        keys = [None if id(link) in called else _constant_key(link) for link in chain]
        _add_reference(found, node.name, keys)
    return frozenset(found)


def _constant_key(link: nodes.Getattr | nodes.Getitem) -> str | int | None:
    if isinstance(link, nodes.Getattr):
        return None if link.attr in _DICT_ATTRIBUTES else link.attr
    if isinstance(link.arg, nodes.Const) and isinstance(link.arg.value, str | int):
        return link.arg.value
    return None


def _add_reference(found: set[Reference], root: str, keys: Sequence[str | int | None]) -> None:
    if root not in _KINDS or not keys or not isinstance(keys[0], str):
        return
    attr = keys[1] if len(keys) > 1 and isinstance(keys[1], str) else None
    found.add(Reference(root, keys[0], attr))  # type: ignore[arg-type]


# ----------------------------------------------------------------------- plan


class Plan:
    """The tests to run, their dependency graph, and an order that respects it.

    Graph nodes are test ids; an edge ``dep -> test`` has ``type`` (order, data or
    token) and ``inferred`` (True when only templates say so, not ``depends_on``).
    ``pred``/``succ`` are the plain adjacency (``pred[test][dep]`` is the edge's
    attributes); the networkx ``graph`` is built from them on first use, so a run
    never imports networkx (~0.1 s of start-up) unless something asks for the graph.
    """

    def __init__(
        self,
        loaded: LoadedSuite,
        graph: nx.DiGraph | None = None,
        order: Sequence[str] = (),
        file_index: Mapping[str, int] | None = None,
        *,
        pred: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
    ) -> None:
        self.loaded = loaded
        self.order: tuple[str, ...] = tuple(order)
        # a Plan built by hand (tests, tools) gets the index from the suite
        self.file_index: Mapping[str, int] = file_index or {
            test.id: i for i, test in enumerate(loaded.suite.tests)
        }
        self._graph = graph
        self._succ: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None
        self.pred: Mapping[str, Mapping[str, Mapping[str, Any]]]
        if graph is not None:
            self.pred, self._succ = graph.pred, graph.succ
        elif pred is None:
            raise ValueError("a Plan needs its graph or its pred adjacency")
        else:
            self.pred = pred

    @property
    def succ(self) -> Mapping[str, Mapping[str, Mapping[str, Any]]]:
        """``succ[dep][test]``: the edge's attributes, by dependency (built on first use)."""
        if self._succ is None:
            succ: dict[str, dict[str, Mapping[str, Any]]] = {t: {} for t in self.pred}
            for test, deps in self.pred.items():
                for dep, attrs in deps.items():
                    succ[dep][test] = attrs
            self._succ = succ
        return self._succ

    def __repr__(self) -> str:
        return f"Plan(suite={self.suite.name!r}, tests={len(self.order)})"

    @property
    def graph(self) -> nx.DiGraph:
        """The dependency graph as a networkx ``DiGraph`` (built on first use)."""
        if self._graph is None:
            import networkx  # deferred: see the class docstring

            graph = networkx.DiGraph()
            graph.add_nodes_from(self.pred)
            graph.add_edges_from(self.edges())
            self._graph = graph
        return self._graph

    def edges(self) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
        """Every edge as ``(dep, test, attributes)``."""
        for test, deps in self.pred.items():
            for dep, attrs in deps.items():
                yield dep, test, attrs

    @property
    def suite(self) -> Suite:
        """The suite this plan runs."""
        return self.loaded.suite

    def test(self, test_id: str) -> TestSpec:
        """The spec of a test by id in constant time (``Suite.test`` scans the list)."""
        return self.loaded.suite.tests[self.file_index[test_id]]

    def dependencies(self, test_id: str) -> tuple[str, ...]:
        """The tests ``test_id`` waits for directly, in file order."""
        return tuple(sorted(self.pred[test_id], key=self.file_index.__getitem__))

    def dependents(self, test_id: str) -> tuple[str, ...]:
        """The tests that wait for ``test_id`` directly, in file order."""
        return tuple(sorted(self.succ[test_id], key=self.file_index.__getitem__))

    def rows(self, test_id: str) -> tuple[dict[str, Any], ...] | None:
        """The data rows of a data-driven test, None for an ordinary one."""
        return self.loaded.rows.get(test_id)


def build_plan(loaded: LoadedSuite, *, tags: Sequence[str] = (), tests: Sequence[str] = ()) -> Plan:
    """Check every enabled test's dependencies, then plan the selected ones.

    With no ``tags`` and no ``tests`` every enabled test is planned. Otherwise the
    tests with any of ``tags`` and the ones named in ``tests`` are, together with
    everything they depend on, directly or not.
    """
    with paused_gc():
        builder = _EdgeBuilder(loaded)
        builder.scan()
        specs = loaded.suite.tests
        planned = [i for i, test in enumerate(specs) if test.enabled]
        order = _topological(builder, planned)  # the whole suite: a cycle anywhere is an error
        if tags or tests:
            planned = _closure(builder, _selected(builder, tags, tests))
            order = _topological(builder, planned)
        pred = {
            specs[test].id: {
                specs[dep].id: _EDGE_ATTRS[code] for dep, code in builder.incoming[test].items()
            }
            for test in planned
        }
        return Plan(
            loaded=loaded,
            order=tuple(specs[i].id for i in order),
            file_index=builder.index,
            pred=pred,
        )


# An edge is one small int, not an object: rank of its type | _DECLARED. A 100k-test
# suite has a quarter million edges, and each object would cost time and memory.
_TYPES = ("order", "data", "token")
_RANK = {name: rank for rank, name in enumerate(_TYPES)}
_DECLARED = 4
# one read-only attribute mapping per code, shared by every edge of that code in
# Plan.pred (networkx copies them into dicts of its own when the graph is built)
_EDGE_ATTRS: dict[int, Mapping[str, Any]] = {
    rank | declared: MappingProxyType({"type": name, "inferred": not declared})
    for rank, name in enumerate(_TYPES)
    for declared in (0, _DECLARED)
}


class _EdgeBuilder:
    """Collects the edges into each test, keyed by file index, checking each as it comes.

    Success paths only look things up; messages are worded once something is wrong.
    """

    def __init__(self, loaded: LoadedSuite) -> None:
        self.source = loaded.source
        self.tests = loaded.suite.tests
        self.index = {test.id: i for i, test in enumerate(self.tests)}
        self.incoming: list[dict[int, int]] = [{} for _ in self.tests]
        self.publishers: dict[tuple[str, str], list[int]] = {}
        for i, test in enumerate(self.tests):
            for capture in test.captures.values():
                if capture.as_token:
                    key = ("shared_auth_tokens", capture.as_token)
                    self.publishers.setdefault(key, []).append(i)
                if capture.as_variable:
                    key = ("shared_variables", capture.as_variable)
                    self.publishers.setdefault(key, []).append(i)
        self._enabled_publishers: dict[tuple[str, str], list[int]] = {}
        # only templated defaults can add edges, so the per-test work skips the rest
        self.default_headers = tuple(
            (name, value) for name, value in loaded.suite.defaults.headers.items() if "{" in value
        )

    def scan(self) -> None:
        tests = self.tests
        for i, test in enumerate(tests):
            if not test.enabled:
                continue  # not planned, so neither are its references
            for j, dep in enumerate(test.depends_on):
                path: PathKey = ("tests", i, "depends_on", j)
                where = self.index.get(dep.test)
                if where is None or not tests[where].enabled:
                    raise self._bad_target(i, dep.test, path, "depends on")
                self._add(where, i, _RANK[dep.type] | _DECLARED)
            for path, text in _template_strings(i, test, self.default_headers):
                try:
                    references = _references(text)
                except jinja2.TemplateSyntaxError as exc:
                    raise self._syntax_error(i, path, exc) from None
                for ref in references:
                    if ref.kind == "captured_data":
                        self._infer_capture(i, ref, path)
                    else:
                        self._infer_shared(i, ref, path)

    def error(self, message: str, path: PathKey) -> PlanError:
        line = self.source.line_of(path)
        return PlanError(message, file=self.source.file, line=line, key=format_key(path))

    def unknown(self, test_id: str) -> str:
        close = difflib.get_close_matches(test_id, self.index, n=1)
        return f"unknown test {test_id!r}" + (f" (did you mean {close[0]!r}?)" if close else "")

    def _add(self, dep: int, i: int, code: int) -> None:
        incoming = self.incoming[i]
        old = incoming.get(dep)
        if old is None:
            incoming[dep] = code
        elif old != code:
            # the strongest reason to wait is the one worth showing; declared if ever declared
            incoming[dep] = max(old & 3, code & 3) | ((old | code) & _DECLARED)

    def where(self, i: int, dep: int) -> PathKey:
        """Where test ``i`` says it needs test ``dep``: declared first, else the first template."""
        test, dep_id = self.tests[i], self.tests[dep].id
        for j, declared in enumerate(test.depends_on):
            if declared.test == dep_id:
                return ("tests", i, "depends_on", j)
        for path, text in _template_strings(i, test, self.default_headers):
            for ref in _references(text):
                if ref.kind == "captured_data":
                    if ref.name == dep_id:
                        return path
                elif dep in self.publishers.get((ref.kind, ref.name), ()):
                    return path
        return ("tests", i)

    def _infer_capture(self, i: int, ref: Reference, path: PathKey) -> None:
        dep = self.index.get(ref.name)
        if dep is None or not self.tests[dep].enabled:
            used = f"captured_data.{ref.name}" + (f".{ref.attr}" if ref.attr else "")
            raise self._bad_target(i, ref.name, path, f"uses {used}, which names")
        captures = self.tests[dep].captures
        if ref.attr is not None and ref.attr not in captures:
            made = ", ".join(captures) or "nothing"
            raise self.error(
                f"test {self.tests[i].id!r} uses captured_data.{ref.name}.{ref.attr}, "
                f"but test {ref.name!r} never captures {ref.attr!r} (it captures: {made})",
                path,
            )
        self._add(dep, i, _RANK["data"])

    def _infer_shared(self, i: int, ref: Reference, path: PathKey) -> None:
        key = (ref.kind, ref.name)
        published = self.publishers.get(key, [])
        enabled = self._enabled_publishers.get(key)
        if enabled is None:
            enabled = [p for p in published if self.tests[p].enabled]
            self._enabled_publishers[key] = enabled
        if i in published:  # a test never waits for itself
            published = [p for p in published if p != i]
            enabled = [p for p in enabled if p != i]
        is_token = ref.kind == "shared_auth_tokens"
        if not enabled and (published or is_token):
            raise self._no_publisher(i, ref, published, path)
        # a variable may also be set outside the suite, and with several publishers
        # the intended one is a guess; only a single publisher is certain
        if is_token or len(enabled) == 1:
            for p in enabled:
                self._add(p, i, _RANK["token" if is_token else "data"])

    def _bad_target(self, i: int, dep: str, path: PathKey, verb: str) -> PlanError:
        me = self.tests[i].id
        where = self.index.get(dep)
        if where is None:
            return self.error(f"test {me!r} {verb} {self.unknown(dep)}", path)
        return self.error(
            f"test {me!r} {verb} disabled test {dep!r}{self._at(where)}; "
            "enable it or remove the dependency",
            path,
        )

    def _no_publisher(self, i: int, ref: Reference, others: list[int], path: PathKey) -> PlanError:
        me = self.tests[i].id
        option = "as_token" if ref.kind == "shared_auth_tokens" else "as_variable"
        used = f"test {me!r} uses {ref.kind}.{ref.name}, but"
        if others:
            names = ", ".join(repr(self.tests[p].id) for p in others)
            message = f"{used} only disabled test(s) {names} capture it ({option}: {ref.name})"
        else:
            itself = " other than itself" if (ref.kind, ref.name) in self.publishers else ""
            message = f"{used} no test{itself} captures a value with {option}: {ref.name}"
        return self.error(message, path)

    def _syntax_error(self, i: int, path: PathKey, exc: jinja2.TemplateSyntaxError) -> PlanError:
        where = f" (template line {exc.lineno})" if exc.lineno and exc.lineno > 1 else ""
        return self.error(
            f"test {self.tests[i].id!r}: template syntax error{where}: {exc.message}", path
        )

    def _at(self, index: int) -> str:
        line = self.source.line_of(("tests", index))
        return f" (line {line})" if line else ""


def _template_strings(
    i: int, test: TestSpec, default_headers: tuple[tuple[str, str], ...]
) -> list[tuple[PathKey, str]]:
    """Every string of a test rendered as a template that could hold one (has a ``{``).

    Paths are built only for those strings: most values hold no template, and this
    runs for every test of the suite.
    """
    found: list[tuple[PathKey, str]] = []
    request = test.request
    if "{" in request.url:
        found.append((("tests", i, "request", "url"), request.url))
    if request.query:
        _collect(request.query, ["tests", i, "request", "query"], found)
    for name, value in request.headers.items():
        if "{" in value:
            found.append((("tests", i, "request", "headers", name), value))
    if default_headers:
        # defaults are rendered for each test that does not set the same header itself
        own = {name.lower() for name in request.headers}
        for name, value in default_headers:
            if name.lower() not in own:
                found.append((("defaults", "headers", name), value))
    if request.json_body is not None:
        _collect(request.json_body, ["tests", i, "request", "json"], found)
    if request.form:
        _collect(request.form, ["tests", i, "request", "form"], found)
    if request.body is not None and "{" in request.body:
        found.append((("tests", i, "request", "body"), request.body))
    checks = test.checks
    for name, check in checks.headers.items():
        if isinstance(check, ValueCheck):
            _collect(check.value, ["tests", i, "checks", "headers", name, "value"], found)
        elif "{" in check:
            found.append((("tests", i, "checks", "headers", name), check))
    for j, json_check in enumerate(checks.json_checks):
        _collect(json_check.value, ["tests", i, "checks", "json", j, "value"], found)
    return found


def _collect(value: Any, path: list[str | int], found: list[tuple[PathKey, str]]) -> None:
    if isinstance(value, str):
        if "{" in value:
            found.append((tuple(path), value))
    elif isinstance(value, dict):
        for key, item in value.items():
            path.append(key)
            _collect(item, path, found)
            path.pop()
    elif isinstance(value, list | tuple):
        for position, item in enumerate(value):
            path.append(position)
            _collect(item, path, found)
            path.pop()


def _topological(builder: _EdgeBuilder, planned: list[int]) -> list[int]:
    """Kahn's algorithm on file indices: among ready tests the earliest in the file goes first."""
    wanted = set(planned)
    waiting = dict.fromkeys(planned, 0)
    successors: dict[int, list[int]] = {i: [] for i in planned}
    for i in planned:
        for dep in builder.incoming[i]:
            if dep in wanted:
                waiting[i] += 1
                successors[dep].append(i)
    ready = [i for i in planned if not waiting[i]]  # already sorted, so already a heap
    order: list[int] = []
    while ready:
        current = heapq.heappop(ready)
        order.append(current)
        for nxt in successors[current]:
            waiting[nxt] -= 1
            if not waiting[nxt]:
                heapq.heappush(ready, nxt)
    if len(order) < len(planned):
        raise _cycle_error(builder, [i for i in planned if waiting[i]])
    return order


def _cycle_error(builder: _EdgeBuilder, stuck: list[int]) -> PlanError:
    # every stuck test needs another stuck one, so walking "needs" edges from any of
    # them ends in a cycle
    import networkx as nx  # only a broken suite gets here

    stuck_set = set(stuck)
    needs_graph = nx.DiGraph()
    needs_graph.add_edges_from(
        (i, dep) for i in stuck for dep in builder.incoming[i] if dep in stuck_set
    )
    needs = [edge[0] for edge in nx.find_cycle(needs_graph, source=stuck[0])]
    start = needs.index(min(needs))  # start at the test written first
    needs = needs[start:] + needs[:start]
    first, second = needs[0], needs[1 % len(needs)]
    shown = " -> ".join(builder.tests[i].id for i in [*needs, first])
    return builder.error(
        f"dependency cycle (each test needs the next): {shown}",
        builder.where(first, second),
    )


def _selected(builder: _EdgeBuilder, tags: Sequence[str], tests: Sequence[str]) -> list[int]:
    chosen: list[int] = []
    for test_id in tests:
        where = builder.index.get(test_id)
        if where is None:
            raise PlanError(f"no such test: {builder.unknown(test_id)}", file=builder.source.file)
        if not builder.tests[where].enabled:
            raise builder.error(f"test {test_id!r} is disabled", ("tests", where, "enabled"))
        chosen.append(where)
    wanted = set(tags)
    if wanted:
        chosen += [
            i for i, t in enumerate(builder.tests) if t.enabled and not wanted.isdisjoint(t.tags)
        ]
    if not chosen:
        raise PlanError(
            f"no enabled test has any of the tags {', '.join(map(repr, tags))}",
            file=builder.source.file,
        )
    return chosen


def _closure(builder: _EdgeBuilder, chosen: list[int]) -> list[int]:
    """The chosen tests and everything they wait for, in file order (one walk in all)."""
    seen = set(chosen)
    stack = list(seen)
    while stack:
        for dep in builder.incoming[stack.pop()]:
            if dep not in seen:
                seen.add(dep)
                stack.append(dep)
    return sorted(seen)
