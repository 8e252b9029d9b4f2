"""Planning: inferred and explicit dependencies, selection, order, and every plan error."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from runner.errors import PlanError, SuiteError
from runner.models import Suite
from runner.plan.graph import Plan, build_plan
from runner.suite.load import load_suite, loaded_from_suite


def plan_of(tmp_path: Path, text: str, **selection: Any) -> Plan:
    path = tmp_path / "suite.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return build_plan(load_suite(path), **selection)


def plan_error(tmp_path: Path, text: str, **selection: Any) -> PlanError:
    with pytest.raises(PlanError) as info:
        plan_of(tmp_path, text, **selection)
    return info.value


def edges(plan: Plan) -> set[tuple[str, str, str, bool]]:
    return {(u, v, d["type"], d["inferred"]) for u, v, d in plan.graph.edges(data=True)}


# ---------------------------------------------------------------- inference

SHOP = """
name: shop
tests:
  - id: login
    request: {method: POST, url: /login}
    captures:
      token: {path: $.token, as_token: user}
      user_id: $.user_id
  - id: catalog
    request:
      url: /catalog
      headers: {Authorization: "Bearer {{ shared_auth_tokens.user }}"}
    captures:
      product_id: $.products[0].id
      price: {path: "$.products[0].price", as_variable: price}
  - id: cart
    request:
      method: POST
      url: "/users/{{ captured_data.login.user_id }}/cart"
      json:
        lines:
          - product: "{{ captured_data['catalog']['product_id'] }}"
    checks:
      json:
        - {path: $.total, op: gte, value: "{{ shared_variables.price }}"}
"""


def test_infers_token_data_and_variable_edges(tmp_path: Path) -> None:
    """Templates add data and token edges, marked inferred."""
    plan = plan_of(tmp_path, SHOP)
    assert edges(plan) == {
        ("login", "catalog", "token", True),
        ("login", "cart", "data", True),
        ("catalog", "cart", "data", True),
    }
    assert plan.order == ("login", "catalog", "cart")


@pytest.mark.parametrize(
    "request_yaml",
    [
        'url: "/x/{{ captured_data.login.token }}"',
        'url: /x\nquery: {q: "{{ captured_data.login.token }}"}',
        'url: /x\nquery: {q: ["a", "{{ captured_data.login.token }}"]}',
        'url: /x\nheaders: {X-T: "{{ captured_data.login.token }}"}',
        'url: /x\njson: {a: [{b: "{{ captured_data.login.token }}"}]}',
        'url: /x\nform: {t: "{{ captured_data.login.token }}"}',
        'url: /x\nbody: "t={{ captured_data.login.token }}"',
    ],
)
def test_every_request_string_is_scanned(tmp_path: Path, request_yaml: str) -> None:
    """url, query, headers, json at any depth, form and body all yield dependencies."""
    text = """
        name: s
        tests:
          - id: login
            request: {url: /login}
            captures: {token: $.t}
          - id: use
            request:
        """
    text = textwrap.dedent(text) + textwrap.indent(request_yaml, " " * 6) + "\n"
    plan = plan_of(tmp_path, text)
    assert edges(plan) == {("login", "use", "data", True)}


@pytest.mark.parametrize(
    "checks_yaml",
    [
        'headers: {X-T: "{{ captured_data.login.token }}"}',
        'headers: {X-T: {op: ne, value: "{{ captured_data.login.token }}"}}',
        'json: [{path: $.t, value: ["{{ captured_data.login.token }}"]}]',
    ],
)
def test_check_values_are_scanned(tmp_path: Path, checks_yaml: str) -> None:
    """Expected header and JSON values are templates too."""
    text = """
        name: s
        tests:
          - id: login
            request: {url: /login}
            captures: {token: $.t}
          - id: use
            request: {url: /x}
            checks:
        """
    text = textwrap.dedent(text) + textwrap.indent(checks_yaml, " " * 6) + "\n"
    assert edges(plan_of(tmp_path, text)) == {("login", "use", "data", True)}


def test_default_headers_count_for_tests_that_do_not_override_them(tmp_path: Path) -> None:
    """A templated default header makes every test without its own header wait for the producer."""
    plan = plan_of(
        tmp_path,
        """
        name: s
        defaults:
          headers: {Authorization: "Bearer {{ shared_auth_tokens.user }}", Accept: text/plain}
        tests:
          - id: login
            request: {url: /login, headers: {authorization: ""}}
            captures: {token: {path: $.t, as_token: user}}
          - id: a
            request: {url: /a}
          - id: b
            request: {url: /b, headers: {AUTHORIZATION: none}}
        """,
    )
    assert edges(plan) == {("login", "a", "token", True)}


def test_default_header_token_needs_a_producer_other_than_the_test(tmp_path: Path) -> None:
    """The producer itself would render the default header before it has the token."""
    err = plan_error(
        tmp_path,
        """
        name: s
        defaults:
          headers: {Authorization: "Bearer {{ shared_auth_tokens.user }}"}
        tests:
          - id: login
            request: {url: /login}
            captures: {token: {path: $.t, as_token: user}}
        """,
    )
    assert (err.line, err.key) == (3, "defaults.headers.Authorization")
    assert err.reason == (
        "test 'login' uses shared_auth_tokens.user, but no test other than itself "
        "captures a value with as_token: user"
    )


def test_explicit_dependencies_keep_their_type(tmp_path: Path) -> None:
    """depends_on adds edges of the written type, not inferred."""
    plan = plan_of(
        tmp_path,
        """
        name: s
        tests:
          - id: a
            request: {url: /a}
          - id: b
            request: {url: /b}
          - id: c
            request: {url: /c}
            depends_on: [a, {test: b, type: token}]
        """,
    )
    assert edges(plan) == {("a", "c", "order", False), ("b", "c", "token", False)}


def test_declared_and_inferred_edge_is_declared_with_the_strongest_type(tmp_path: Path) -> None:
    """One edge per pair: declared wins over inferred, token > data > order."""
    plan = plan_of(
        tmp_path,
        """
        name: s
        tests:
          - id: login
            request: {url: /login}
            captures: {t: {path: $.t, as_token: user}}
          - id: use
            request:
              url: "/{{ captured_data.login.t }}"
              headers: {A: "{{ shared_auth_tokens.user }}"}
            depends_on: [login]
        """,
    )
    assert edges(plan) == {("login", "use", "token", False)}


def test_tokens_from_several_producers_wait_for_all(tmp_path: Path) -> None:
    """Every other enabled test publishing the token is a dependency."""
    plan = plan_of(
        tmp_path,
        """
        name: s
        tests:
          - id: login
            request: {url: /login}
            captures: {t: {path: $.t, as_token: user}}
          - id: refresh
            request: {url: /refresh, headers: {A: "{{ shared_auth_tokens.user }}"}}
            captures: {t: {path: $.t, as_token: user}}
          - id: use
            request: {url: /use, headers: {A: "{{ shared_auth_tokens.user }}"}}
        """,
    )
    assert plan.dependencies("refresh") == ("login",)
    assert plan.dependencies("use") == ("login", "refresh")


def test_variables_need_exactly_one_publisher(tmp_path: Path) -> None:
    """No publisher: no edge and no error; two publishers: ambiguous, no edge."""
    plan = plan_of(
        tmp_path,
        """
        name: s
        tests:
          - id: p1
            request: {url: /1}
            captures: {v: {path: $.v, as_variable: shared}}
          - id: p2
            request: {url: /2}
            captures: {v: {path: $.v, as_variable: shared}}
          - id: use
            request: {url: "/{{ shared_variables.shared }}/{{ shared_variables.external }}"}
        """,
    )
    assert plan.dependencies("use") == ()


# ------------------------------------------------------------------- errors


def test_cycle_prints_its_path_and_line(tmp_path: Path) -> None:
    """A cycle names every test on it, starting from the first in the file."""
    err = plan_error(
        tmp_path,
        """
        name: s
        tests:
          - id: a
            request: {url: /a}
            depends_on: [c]
          - id: b
            request: {url: "/b/{{ captured_data.a }}"}
          - id: c
            request: {url: /c}
            depends_on: [b]
          - id: d
            request: {url: /d}
            depends_on: [a]
        """,
    )
    assert isinstance(err, SuiteError)
    assert (err.line, err.key) == (5, "tests[0].depends_on[0]")
    assert err.reason == "dependency cycle (each test needs the next): a -> c -> b -> a"


def test_self_reference_is_a_cycle(tmp_path: Path) -> None:
    """A test reading its own captures can never run."""
    err = plan_error(
        tmp_path,
        """
        name: s
        tests:
          - id: a
            request: {url: "/a/{{ captured_data.a.x }}"}
            captures: {x: $.x}
        """,
    )
    assert (err.line, err.key) == (4, "tests[0].request.url")
    assert err.reason.endswith(": a -> a")


def test_unknown_test_in_depends_on_names_both(tmp_path: Path) -> None:
    """An unknown explicit dependency names the test, the unknown id and a suggestion."""
    err = plan_error(
        tmp_path,
        """
        name: s
        tests:
          - id: login
            request: {url: /login}
          - id: orders
            request: {url: /orders}
            depends_on: [lgin]
        """,
    )
    assert (err.line, err.key) == (7, "tests[1].depends_on[0]")
    assert err.reason == "test 'orders' depends on unknown test 'lgin' (did you mean 'login'?)"


def test_unknown_test_in_a_template_names_both(tmp_path: Path) -> None:
    """An unknown captured_data test names the referencing test and the unknown id."""
    err = plan_error(
        tmp_path,
        """
        name: s
        tests:
          - id: cart
            request:
              url: /cart
              json: {user: "{{ captured_data.nobody.id }}"}
        """,
    )
    assert (err.line, err.key) == (6, "tests[0].request.json.user")
    assert err.reason == (
        "test 'cart' uses captured_data.nobody.id, which names unknown test 'nobody'"
    )


def test_unknown_capture_names_both_tests_and_the_capture(tmp_path: Path) -> None:
    """A capture the producer never makes is an error naming both tests."""
    err = plan_error(
        tmp_path,
        """
        name: s
        tests:
          - id: login
            request: {url: /login}
            captures: {token: $.token}
          - id: cart
            request: {url: /cart}
            checks:
              headers: {X-Token: "{{ captured_data.login.tokn }}"}
        """,
    )
    assert (err.line, err.key) == (9, "tests[1].checks.headers.X-Token")
    assert err.reason == (
        "test 'cart' uses captured_data.login.tokn, but test 'login' never captures "
        "'tokn' (it captures: token)"
    )


def test_token_without_producer_is_an_error(tmp_path: Path) -> None:
    """Nobody publishing a token a test uses is an error at the template's line."""
    err = plan_error(
        tmp_path,
        """
        name: s
        tests:
          - id: cart
            request:
              url: /cart
              headers: {Authorization: "Bearer {{ shared_auth_tokens['user'] }}"}
        """,
    )
    assert (err.line, err.key) == (6, "tests[0].request.headers.Authorization")
    assert err.reason == (
        "test 'cart' uses shared_auth_tokens.user, but no test captures a value with as_token: user"
    )


def test_dependency_on_disabled_test_is_an_error(tmp_path: Path) -> None:
    """Depending on a disabled test, explicitly or through a template, is an error."""
    text = """
        name: s
        tests:
          - id: legacy
            enabled: false
            request: {url: /legacy}
            captures: {id: $.id}
          - id: checkout
            request: {url: /checkout}
            depends_on: [legacy]
        """
    err = plan_error(tmp_path, text)
    assert (err.line, err.key) == (9, "tests[1].depends_on[0]")
    assert err.reason == (
        "test 'checkout' depends on disabled test 'legacy' (line 3); "
        "enable it or remove the dependency"
    )
    text = text.replace("depends_on: [legacy]", "")
    text = text.replace("url: /checkout", 'url: "/c/{{ captured_data.legacy.id }}"')
    err = plan_error(tmp_path, text)
    assert (err.line, err.key) == (8, "tests[1].request.url")
    assert "disabled test 'legacy'" in err.reason


def test_token_from_disabled_test_only_is_an_error(tmp_path: Path) -> None:
    """A token published only by disabled tests is a dependency on a disabled test."""
    err = plan_error(
        tmp_path,
        """
        name: s
        tests:
          - id: login
            enabled: false
            request: {url: /login}
            captures: {t: {path: $.t, as_token: user}}
          - id: use
            request: {url: /use, headers: {A: "{{ shared_auth_tokens.user }}"}}
        """,
    )
    assert (err.line, err.key) == (8, "tests[1].request.headers.A")
    assert "only disabled test(s) 'login' capture it (as_token: user)" in err.reason


def test_template_syntax_error_is_a_plan_error(tmp_path: Path) -> None:
    """A broken template stops the plan with its location."""
    err = plan_error(
        tmp_path,
        """
        name: s
        tests:
          - id: a
            request: {url: "/{{ captured_data.x "}
        """,
    )
    assert (err.line, err.key) == (4, "tests[0].request.url")
    assert err.reason.startswith("test 'a': template syntax error")


def test_disabled_tests_are_not_planned_or_checked(tmp_path: Path) -> None:
    """A disabled test is left out, and its own broken references do not matter."""
    plan = plan_of(
        tmp_path,
        """
        name: s
        tests:
          - id: a
            request: {url: /a}
          - id: old
            enabled: false
            request: {url: "/{{ captured_data.gone.x }}"}
            depends_on: [gone]
        """,
    )
    assert plan.order == ("a",)
    assert "old" not in plan.graph


# -------------------------------------------------------- order and selection

ORDERED = """
name: s
tests:
  - id: t1
    tags: [x]
    request: {url: "/{{ captured_data.t4.v }}"}
  - id: t2
    request: {url: /2}
  - id: t3
    tags: [y]
    request: {url: /3}
    depends_on: [t1]
  - id: t4
    request: {url: /4}
    captures: {v: $.v}
  - id: t5
    tags: [x, z]
    request: {url: /5}
"""


def test_order_is_topological_with_ties_in_file_order(tmp_path: Path) -> None:
    """Ready tests run in file order; a producer written later still runs first."""
    plan = plan_of(tmp_path, ORDERED)
    assert plan.order == ("t2", "t4", "t1", "t3", "t5")


def test_dependencies_and_dependents_are_in_file_order(tmp_path: Path) -> None:
    """Direct predecessors and successors come back in file order."""
    plan = plan_of(
        tmp_path,
        """
        name: s
        tests:
          - id: a
            request: {url: /a}
          - id: b
            request: {url: /b}
          - id: c
            request: {url: /c}
            depends_on: [b, a]
          - id: d
            request: {url: /d}
            depends_on: [b]
        """,
    )
    assert plan.dependencies("c") == ("a", "b")
    assert plan.dependents("b") == ("c", "d")
    assert plan.dependencies("a") == ()


def test_select_by_tag_pulls_in_dependencies_transitively(tmp_path: Path) -> None:
    """Selecting by tag plans the tagged tests and every test they wait for."""
    plan = plan_of(tmp_path, ORDERED, tags=["y"])
    assert plan.order == ("t4", "t1", "t3")
    assert set(plan.graph.nodes) == {"t1", "t3", "t4"}
    assert edges(plan) == {("t4", "t1", "data", True), ("t1", "t3", "order", False)}


def test_select_by_any_tag_and_by_id(tmp_path: Path) -> None:
    """Any of the tags matches, and ids add to the tag selection."""
    assert plan_of(tmp_path, ORDERED, tags=["z"]).order == ("t5",)
    assert plan_of(tmp_path, ORDERED, tags=["x"]).order == ("t4", "t1", "t5")
    assert plan_of(tmp_path, ORDERED, tags=["z"], tests=["t2"]).order == ("t2", "t5")
    assert plan_of(tmp_path, ORDERED, tests=["t1"]).order == ("t4", "t1")


def test_unknown_selected_test_is_a_plan_error(tmp_path: Path) -> None:
    """--test with an unknown id fails, suggesting a close one."""
    err = plan_error(tmp_path, ORDERED, tests=["t11"])
    assert err.file == str(tmp_path / "suite.yaml")
    assert err.reason == ("no such test: unknown test 't11' (did you mean 't1'?)")


def test_selecting_a_disabled_test_is_a_plan_error(tmp_path: Path) -> None:
    """A disabled test cannot be selected by id."""
    text = ORDERED.replace("  - id: t2\n", "  - id: t2\n    enabled: false\n")
    err = plan_error(tmp_path, text, tests=["t2"])
    assert (err.line, err.key, err.reason) == (7, "tests[1].enabled", "test 't2' is disabled")


def test_tags_matching_nothing_are_a_plan_error(tmp_path: Path) -> None:
    """A tag no enabled test has is most likely a typo."""
    err = plan_error(tmp_path, ORDERED, tags=["nope"])
    assert err.reason == "no enabled test has any of the tags 'nope'"


def test_a_cycle_outside_the_selection_still_fails(tmp_path: Path) -> None:
    """The whole suite is checked before selecting, so errors do not hide behind tags."""
    text = ORDERED + "  - id: c1\n    request: {url: /c}\n    depends_on: [c1]\n"
    err = plan_error(tmp_path, text, tags=["z"])
    assert err.reason.endswith("c1 -> c1")


def test_rows_and_specs_come_from_the_plan(tmp_path: Path) -> None:
    """rows() gives data rows of data-driven tests and None otherwise; test() finds specs."""
    plan = plan_of(
        tmp_path,
        """
        name: s
        tests:
          - id: a
            request: {url: /a}
          - id: b
            request: {url: "/b/{{ row.q }}"}
            data: [{q: 1}, {q: 2}]
        """,
    )
    assert plan.rows("b") == ({"q": 1}, {"q": 2})
    assert plan.rows("a") is None
    assert plan.test("b").id == "b"
    assert plan.suite is plan.loaded.suite


# --------------------------------------------------------------------- scale


def test_a_100k_test_plan_builds() -> None:
    """A Python-built suite of 100,000 chained tests plans (without timing assertions)."""
    chains = 25_000
    auth = {"Authorization": "Bearer {{ shared_auth_tokens.user }}"}
    tests: list[dict[str, Any]] = [
        {
            "id": "login",
            "request": {"method": "POST", "url": "/login"},
            "captures": {"token": {"path": "$.token", "as_token": "user"}},
        }
    ]
    for i in range(chains - 1):
        item = f"{{{{ captured_data.create_{i}.id }}}}"
        tests += [
            {
                "id": f"create_{i}",
                "request": {"method": "POST", "url": "/items", "headers": auth},
                "captures": {"id": "$.id"},
            },
            {"id": f"get_{i}", "request": {"url": f"/items/{item}", "headers": auth}},
            {
                "id": f"update_{i}",
                "request": {"method": "PUT", "url": f"/items/{item}", "headers": auth},
                "depends_on": [f"get_{i}"],
            },
            {
                "id": f"delete_{i}",
                "request": {"method": "DELETE", "url": f"/items/{item}", "headers": auth},
                "depends_on": [f"update_{i}"],
            },
        ]
    tests += [{"id": f"extra_{i}", "request": {"url": "/"}} for i in range(3)]
    suite = Suite.model_validate({"name": "big", "tests": tests})
    assert len(suite.tests) == 100_000
    plan = build_plan(loaded_from_suite(suite))
    assert len(plan.order) == 100_000
    assert plan.order[:3] == ("login", "create_0", "get_0")
    assert plan.dependencies("delete_7") == ("login", "create_7", "update_7")
    small = build_plan(plan.loaded, tests=["delete_77"])
    assert small.order == ("login", "create_77", "get_77", "update_77", "delete_77")


def test_a_plan_built_by_hand_knows_file_order(tmp_path: Path) -> None:
    """Plan(loaded, graph, order) works without file_index, e.g. in other modules' tests."""
    built = plan_of(tmp_path, ORDERED)
    by_hand = Plan(loaded=built.loaded, graph=built.graph, order=built.order)
    assert by_hand.dependencies("t3") == ("t1",)
    assert by_hand.test("t5").tags == ("x", "z")
