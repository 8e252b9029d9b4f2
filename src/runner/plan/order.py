"""The run order: a topological order of the graph, the earliest written test first.

A suite that has none has a cycle, reported as the tests that need each other.
"""

from __future__ import annotations

import heapq

from runner.errors import PlanError
from runner.plan.edges import EdgeBuilder


def topological(builder: EdgeBuilder, planned: list[int]) -> list[int]:
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


def _cycle_error(builder: EdgeBuilder, stuck: list[int]) -> PlanError:
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
