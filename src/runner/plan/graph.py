"""Turn a loaded suite into a dependency graph and a run order, or say why it cannot run.

Edges come from ``depends_on`` and from the templates themselves: a test whose request
says ``{{ captured_data.login.token }}`` runs after ``login`` (``edges``). Every problem
(a cycle, an unknown test, a capture nobody makes, a disabled producer) is raised while
planning, with file and line, before any request is sent (``edges``, ``order``,
``select``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from runner.models import Suite, TestSpec
from runner.plan.edges import EDGE_ATTRS, EdgeBuilder
from runner.plan.order import topological
from runner.plan.select import closure, selected
from runner.suite.load import LoadedSuite

if TYPE_CHECKING:
    import networkx as nx


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
    builder = EdgeBuilder(loaded)
    builder.scan()
    specs = loaded.suite.tests
    planned = [i for i, test in enumerate(specs) if test.enabled]
    order = topological(builder, planned)  # the whole suite: a cycle anywhere is an error
    if tags or tests:
        planned = closure(builder, selected(builder, tags, tests))
        order = topological(builder, planned)
    pred = {
        specs[test].id: {
            specs[dep].id: EDGE_ATTRS[code] for dep, code in builder.incoming[test].items()
        }
        for test in planned
    }
    return Plan(
        loaded=loaded,
        order=tuple(specs[i].id for i in order),
        file_index=builder.index,
        pred=pred,
    )
