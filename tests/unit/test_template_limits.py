"""Template limits: refused while rendering, and while planning when the operands are constants."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from runner.errors import PlanError
from runner.plan.graph import build_plan
from runner.suite.load import load_suite
from runner.templating import limits
from runner.templating.limits import MAX_OUTPUT, MAX_RANGE, LimitError, violation
from runner.templating.render import Renderer, TemplateError


def render(source: str, **env: Any) -> Any:
    return Renderer(seed=1).text(source, {"env": env}, "request.body")


def refused(source: str, **env: Any) -> str:
    """The reason a template is refused, which must come quickly."""
    started = time.monotonic()
    with pytest.raises(TemplateError) as info:
        render(source, **env)
    assert time.monotonic() - started < 2, source
    assert info.value.field == "request.body"
    return info.value.reason


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{{ lipsum(10**6) }}", "lipsum(1000000) is above the limit of 100 paragraphs"),
        ("x {{ lipsum(2, max=10**5) }}", "lipsum(max=100000) is above the limit of 1,000 words"),
        ("{{ range(10**6)|list }}", "range(1000000) is above the limit of 10,000 items"),
        ("{{ range(0, 10**30, 1)|list }}", "range(0, <100-bit integer>, 1) is above"),
        ("{{ 2 ** (10**9) }}", "2 ** 1000000000 has about 1,000,000,000 bits"),
        ("{{ 3 ** 5000 }}", "3 ** 5000 has about 7,924 bits, above the limit of 4,096"),
        ("{{ 2 ** 4000 * 2 ** 4000 }}", "above the limit of 4,096"),
        ("{{ [1, 2] * (10**6) }}", "a list of 2 * 1000000 gives 2,000,000 items"),
        ("{{ '%0100000000d' % 1 }}", "format width 100,000,000 is above the limit"),
        ("{{ '%0100000000d'|format(1) }}", "format width 100,000,000 is above the limit"),
        ("{{ 'x'|center(10**8) }}", "center(100000000) gives 100,000,000 items"),
        ("{{ 'x'|center(100000000) }}", "center(100000000) gives 100,000,000 items"),
        ("{{ 'a\nb'|indent(10**7) }}", "indent(10000000) gives 20,000,003 items"),
        ("{{ [1]|batch(10**7, 0)|list }}", "batch(10000000) gives 10,000,000 items"),
    ],
)
def test_constant_work_above_a_limit_is_a_template_error(source: str, reason: str) -> None:
    """lipsum, range, **, *, % and the widening filters refuse before doing the work."""
    assert reason in refused(source)


def test_repetition_from_the_context_is_refused_by_length() -> None:
    """'x' * env.n: the operator checks the length it would build, not just constants."""
    reason = refused("{{ 'x' * env.n }}", n=10**9)
    assert reason == (
        "a str of 1 * 1000000000 gives 1,000,000,000 characters, above the limit of 1,048,576"
    )
    assert refused("{{ env.n * 'ab' }}", n=MAX_OUTPUT).startswith("a str of 2 * 1048576")
    assert render("{{ 'ab' * env.n }}", n=3) == "ababab"


def test_output_is_cut_at_one_mib() -> None:
    """A template whose output passes 1 MiB stops there; one just under it renders."""
    loop = "{% for i in range(env.n) %}{{ 'x' * 1000 }}{% endfor %}"
    assert refused(loop, n=2000) == "template output exceeds 1 MiB"
    assert len(render(loop, n=1000)) == 1_000_000
    assert refused("{{ env.s ~ env.s }}", s="x" * MAX_OUTPUT).startswith("joining with ~ gives")


def test_loops_and_recursion_run_out_of_steps() -> None:
    """Nested ranges and a doubling macro stop at MAX_STEPS calls and range items."""
    nested = "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}"
    assert "more than 100,000 calls and range items" in refused(nested)
    doubling = (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}"
    )
    assert "more than 100,000 calls" in refused(doubling)


def test_the_step_budget_is_per_rendering() -> None:
    """Many renderings that each stay under the budget all succeed."""
    renderer = Renderer(seed=1)
    source = "{{ range(10000)|sum }}"
    for _ in range(30):  # 300,000 range items in all, 10,000 in each
        assert renderer.text(source, {}, "f") == sum(range(MAX_RANGE))


def test_a_namespace_cannot_grow_a_string_past_the_limit() -> None:
    """Doubling a namespace attribute in a loop is refused once it passes the limit."""
    source = (
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}"
        "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}"
    )
    assert "above the limit of 1,048,576" in refused(source)
    assert render(source.replace("40", "3")) == "8"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ lipsum(1, html=False, min=3, max=4)|wordcount }}", 3),
        ("{{ range(3)|list }}", [0, 1, 2]),
        ("{{ 2 ** 100 }}", 2**100),
        ("{{ 'ab' * 2 }}-{{ 'c' ~ 'd' }}", "abab-cd"),
        ("{{ '%03d' % 7 }}", "007"),
        ("{{ '%s-%d'|format('a', 3) }}", "a-3"),
        ("{{ 'x'|center(5) }}", "  x  "),
        ("{{ [1, 2, 3]|batch(2)|list }}", [[1, 2], [3]]),
        ("{{ [1, 2, 3]|slice(2)|list }}", [[1, 2], [3]]),
        ("{{ [1] + [2] }}", [1, 2]),
        ("{{ 7 % 3 }} {{ 7 // 2 }}", "1 3"),
    ],
)
def test_ordinary_templates_render_as_before(source: str, expected: Any) -> None:
    """The limited sandbox renders what stays within the limits as jinja2 does."""
    assert render(source) == expected


def test_binop_refuses_before_computing() -> None:
    """binop checks operand sizes first, so a huge power costs nothing to refuse."""
    started = time.monotonic()
    with pytest.raises(LimitError):
        limits.binop("**", 10, 10**10)
    with pytest.raises(LimitError):
        limits.binop("*", "x" * 1000, 10**6)
    assert time.monotonic() - started < 0.1
    assert limits.binop("-", 5, 7) == -2


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{{ lipsum(10**6) }}", "lipsum(1000000) is above the limit of 100 paragraphs"),
        ("{% for i in range(10**7) %}{% endfor %}", "range(10000000) is above the limit"),
        ("{{ 'x' * 10**9 }}", "a str of 1 * 1000000000 gives 1,000,000,000 characters"),
        ("{{ 2 ** (10**9) }}", "2 ** 1000000000 has about 1,000,000,000 bits"),
        ("{{ 10 ** (10 ** (10 ** 10)) }}", "10 ** 10000000000 has about 33,219,280,948 bits"),
        ("{{ ('ab' * 1000) * -(-(10**6)) }}", "a str of 2,000 * 1000000 gives"),
        ("a{{ lipsum(n=10**6) }}", "lipsum(1000000)"),
    ],
)
def test_plan_time_folding_finds_certain_violations(source: str, reason: str) -> None:
    """Constant operands are folded, within the limits, to find what must fail."""
    found = violation(source)
    assert found is not None and reason in found


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'x' * env.n }}",
        "{{ lipsum(5) }} {{ range(100)|list }}",
        "{% set range = env.r %}{{ range(10**9) }}",
        "{{ (1 / 0) * 10 }}",
        "/a%20b/{{ env.id }}",
        "{{ uuid() }} * 10**9",
        "{{ '%0100000000d' % 1 }}",  # % formats: left to rendering
    ],
)
def test_plan_time_folding_leaves_what_is_not_certain(source: str) -> None:
    """Non-constant operands, a shadowed name, errors of another kind: no plan error."""
    assert violation(source) is None


def test_a_suite_with_a_certain_violation_fails_to_plan(tmp_path: Path) -> None:
    """build_plan names the file, line, key and test of a template certain to break a limit."""
    path = tmp_path / "suite.yaml"
    suite = """
        name: s
        tests:
          - id: ok
            request: {url: "/ok/{{ range(3)|join(',') }}"}
          - id: big
            request:
              url: /big
              method: POST
              json: {text: "{{ lipsum(10**6) }}"}
    """
    path.write_text(textwrap.dedent(suite).lstrip("\n"), encoding="utf-8")
    with pytest.raises(PlanError) as info:
        build_plan(load_suite(path))
    err = info.value
    assert (err.file, err.line, err.key) == (str(path), 9, "tests[1].request.json.text")
    assert err.reason == (
        "test 'big': template limit: lipsum(1000000) is above the limit of 100 paragraphs"
    )
