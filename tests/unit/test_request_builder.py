"""build_request: stored or file requests rendered into httpx.Request objects."""

from __future__ import annotations

import json

import pytest

from runner import build_request
from runner.context.manager import RunContext
from runner.store.sync import case_definitions
from runner.suite.load import load_suite_text
from runner.templating.render import TemplateError

SUITE = load_suite_text(
    """
name: rb
tests:
  - id: cart
    request:
      method: post
      url: "/users/{{ captured_data.login.user_id }}/cart"
      query: {page: "{{ shared_variables.page }}", q: "x y"}
      headers:
        Authorization: "Bearer {{ shared_auth_tokens.user }}"
        X-Env: "{{ env.region }}-{{ secrets.api_key }}"
      json:
        product: "{{ captured_data.catalog.ids }}"
        qty: 2
        row: "{{ row.n }}"
""",
    file="rb.yaml",
)
CONTEXT = {
    "env": {"region": "eu"},
    "secrets": {"api_key": "k-1"},
    "shared_auth_tokens": {"user": "tok"},
    "shared_variables": {"page": 3},
    "captured_data": {"login": {"user_id": 42}, "catalog": {"ids": [1, 2]}},
    "row": {"n": 7},
}


def _check(request: object) -> None:
    import httpx

    assert isinstance(request, httpx.Request)
    assert request.method == "POST"
    assert str(request.url) == "http://api.test/v1/users/42/cart?page=3&q=x+y"
    assert request.headers["authorization"] == "Bearer tok"
    assert request.headers["x-env"] == "eu-k-1"
    assert json.loads(request.content) == {"product": [1, 2], "qty": 2, "row": 7}


def test_file_test_spec_is_rendered_with_every_name() -> None:
    """A TestSpec from a suite file renders URL, query, headers and a typed JSON body."""
    _check(build_request("http://api.test/v1", SUITE.suite.tests[0], CONTEXT))


def test_stored_definition_renders_the_same() -> None:
    """The JSON stored in test_cases.definition gives the same request as the file."""
    definition = case_definitions(SUITE.suite, {})[0]["definition"]
    stored = json.loads(json.dumps(definition))  # as read back from jsonb
    _check(build_request({"base_url": "http://api.test/v1"}, stored, CONTEXT))


def test_run_context_supplies_tokens_variables_and_captures() -> None:
    """A RunContext from the context manager provides the shared names."""
    ctx = RunContext(
        run_id="r",
        tokens={"user": "tok"},
        variables={"page": 1},
        captured={"login": {"user_id": 5}},
    )
    spec = {
        "url": "/u/{{ captured_data.login.user_id }}",
        "query": {"p": "{{ shared_variables.page }}"},
        "headers": {"Authorization": "Bearer {{ shared_auth_tokens.user }}"},
    }
    request = build_request("http://h", spec, ctx, default_headers={"Accept": "application/json"})
    assert str(request.url) == "http://h/u/5?p=1"
    assert request.headers["authorization"] == "Bearer tok"
    assert request.headers["accept"] == "application/json"


def test_missing_name_is_a_template_error_naming_the_field() -> None:
    """An undefined name raises TemplateError with the field and the missing path."""
    with pytest.raises(
        TemplateError, match=r"request.headers.Authorization: .*shared_auth_tokens.user"
    ):
        build_request("http://h", SUITE.suite.tests[0], {**CONTEXT, "shared_auth_tokens": {}})


def test_relative_url_without_base_is_a_template_error() -> None:
    """A relative URL with no endpoint base URL is refused with a clear reason."""
    with pytest.raises(TemplateError, match="needs a base URL"):
        build_request(None, {"url": "/x"})
