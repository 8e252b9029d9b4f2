"""What a test may use from a run's context: its dependencies' values, with provenance."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runner.context.models import Provided, Resolution, RunContext

if TYPE_CHECKING:
    from runner.plan.graph import Plan


def as_plan(plan: Any) -> Plan:
    """A ``Plan`` from a plan, a ``Suite`` or a ``LoadedSuite``."""
    from runner.models import Suite
    from runner.plan.graph import Plan, build_plan
    from runner.suite.load import LoadedSuite, loaded_from_suite

    if isinstance(plan, Plan):
        return plan
    if isinstance(plan, Suite):
        plan = loaded_from_suite(plan)
    if isinstance(plan, LoadedSuite):
        return build_plan(plan)
    raise TypeError(f"expected a Plan, Suite or LoadedSuite, not {type(plan).__name__}")


def ancestors(plan: Plan, test_id: str) -> tuple[str, ...]:
    """Every test ``test_id`` depends on, directly or not, in plan order."""
    import networkx as nx

    above = nx.ancestors(plan.graph, test_id)
    return tuple(t for t in plan.order if t in above)


def resolution(
    context: RunContext, test_id: str, waiting: list[str], dependencies: tuple[str, ...]
) -> Resolution:
    """The tokens, variables and dependencies' captures ``test_id`` may use, with provenance."""
    tokens = {
        name: Provided(value, *context.produced("token", name))
        for name, value in context.tokens.items()
    }
    variables = {
        name: Provided(value, *context.produced("variable", name))
        for name, value in context.variables.items()
    }
    captured: dict[str, dict[str, Provided]] = {}
    for dep in dependencies:
        if dep in context.captured:
            by, at = context.produced("test", dep)
            captured[dep] = {
                k: Provided(v, by or dep, at) for k, v in context.captured[dep].items()
            }
    return Resolution(
        test_id, not waiting, tuple(waiting), dependencies, tokens, variables, captured
    )
