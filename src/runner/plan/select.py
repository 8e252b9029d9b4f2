"""Selection: the tests asked for with ``--test`` and ``--tag``, and all they wait for."""

from __future__ import annotations

from collections.abc import Sequence

from runner.errors import PlanError
from runner.plan.edges import EdgeBuilder


def selected(builder: EdgeBuilder, tags: Sequence[str], tests: Sequence[str]) -> list[int]:
    """The tests named in ``tests`` and those with any of ``tags``, by file index."""
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


def closure(builder: EdgeBuilder, chosen: list[int]) -> list[int]:
    """The chosen tests and everything they wait for, in file order (one walk in all)."""
    seen = set(chosen)
    stack = list(seen)
    while stack:
        for dep in builder.incoming[stack.pop()]:
            if dep not in seen:
                seen.add(dep)
                stack.append(dep)
    return sorted(seen)
