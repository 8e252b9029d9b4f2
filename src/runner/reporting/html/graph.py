"""The dependency graph of a run, laid out in layers for an inline SVG.

Columns are networkx topological generations (a test sits one column right of its
latest dependency); within a column tests are ordered by the mean row of their
dependencies (the barycenter heuristic, one sweep), which keeps most edges short
and straight. No JavaScript: the template draws boxes and curves at these numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import networkx as nx

from runner.models import Status

NODE_W = 170
NODE_H = 34
GAP_X = 64
GAP_Y = 14
MARGIN = 12
LABEL_CHARS = 22
MAX_NODES = 400
"""Beyond this the graph is not drawn: it would be unreadable, and heavy to load."""

STATUS_COLOURS: Mapping[str, str] = {
    "passed": "#2e7d32",
    "failed": "#c62828",
    "error": "#ef6c00",
    "skipped": "#9e9e9e",
    "not run": "#cfd8dc",
}

_SEVERITY = {"error": 3, "failed": 2, "passed": 1, "skipped": 0}


@dataclass(frozen=True)
class Node:
    """One test drawn as a box."""

    test: str
    label: str
    status: str
    colour: str
    x: int
    y: int
    detail: str


@dataclass(frozen=True)
class Edge:
    """One dependency drawn as a curve from ``source`` (dependency) to ``target``."""

    source: str
    target: str
    kind: str
    path: str


@dataclass(frozen=True)
class GraphView:
    """A laid-out graph, or the reason it is not drawn."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    width: int
    height: int
    omitted: str = ""
    node_w: int = NODE_W
    node_h: int = NODE_H


def statuses_by_test(results: Sequence[tuple[str, Status]]) -> dict[str, str]:
    """Status per test id: data rows fold into their test (the worst row wins).

    Rows that are all skipped make the test skipped; any failed or errored row makes
    it failed or errored.
    """
    out: dict[str, str] = {}
    for test_id, status in results:
        seen = out.get(test_id)
        if seen is None or _SEVERITY[status.value] > _SEVERITY[seen]:
            out[test_id] = status.value
    return out


def _label(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def layout(
    statuses: Mapping[str, str],
    edges: Sequence[tuple[str, str, str]],
    *,
    details: Mapping[str, str] | None = None,
    max_nodes: int = MAX_NODES,
) -> GraphView:
    """Place every test of ``statuses`` (in its order) and the edges among them.

    ``edges`` are ``(dependency, test, type)``; edges naming a test that is not in
    ``statuses`` are left out (it did not run).
    """
    if not statuses:
        return GraphView((), (), 0, 0, omitted="no tests")
    if len(statuses) > max_nodes:
        return GraphView(
            (), (), 0, 0, omitted=f"{len(statuses)} tests: too many to draw (limit {max_nodes})"
        )
    graph = nx.DiGraph()
    graph.add_nodes_from(statuses)
    for dep, test, kind in edges:
        if dep in statuses and test in statuses and dep != test:
            graph.add_edge(dep, test, kind=kind)
    order = {test: i for i, test in enumerate(statuses)}
    try:
        generations = [list(g) for g in nx.topological_generations(graph)]
    except nx.NetworkXUnfeasible:  # a cycle cannot have run, but never fail a report on it
        generations = [list(statuses)]
    row: dict[str, float] = {}
    for column in generations:

        def key(test: str) -> tuple[float, int]:
            preds = [row[p] for p in graph.predecessors(test) if p in row]
            centre = sum(preds) / len(preds) if preds else float(order[test])
            return (centre, order[test])

        column.sort(key=key)
        for i, test in enumerate(column):
            row[test] = float(i)
    place: dict[str, tuple[int, int]] = {}
    for c, column in enumerate(generations):
        for r, test in enumerate(column):
            place[test] = (MARGIN + c * (NODE_W + GAP_X), MARGIN + r * (NODE_H + GAP_Y))
    nodes = tuple(
        Node(
            test=test,
            label=_label(test),
            status=statuses[test],
            colour=STATUS_COLOURS.get(statuses[test], STATUS_COLOURS["not run"]),
            x=place[test][0],
            y=place[test][1],
            detail=(details or {}).get(test, statuses[test]),
        )
        for test in statuses
    )
    drawn = []
    for dep, test, data in graph.edges(data=True):
        (x1, y1), (x2, y2) = place[dep], place[test]
        sx, sy = x1 + NODE_W, y1 + NODE_H // 2
        tx, ty = x2, y2 + NODE_H // 2
        mid = (sx + tx) // 2
        path = f"M{sx},{sy} C{mid},{sy} {mid},{ty} {tx - 6},{ty}"
        drawn.append(Edge(source=dep, target=test, kind=str(data.get("kind", "order")), path=path))
    columns = len(generations)
    rows = max(len(g) for g in generations)
    width = 2 * MARGIN + columns * NODE_W + (columns - 1) * GAP_X
    height = 2 * MARGIN + rows * NODE_H + (rows - 1) * GAP_Y
    return GraphView(nodes, tuple(drawn), width, height)
