"""Rendering of templated requests and check values."""

from __future__ import annotations

from typing import Any

import pytest

from runner.models import RequestSpec
from runner.templating.render import Renderer, TemplateError, join_url


def context(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "env": {"region": "eu", "page_size": 20},
        "secrets": {"password": "hunter22"},
        "shared_auth_tokens": {"main": "tok-123"},
        "shared_variables": {"tags": ["a", "b"]},
        "captured_data": {"login": {"user_id": 7, "profile": {"name": "Ann"}}},
        "row": {},
    }
    base.update(overrides)
    return base


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ env.page_size }}", 20),
        ("{{ shared_variables.tags }}", ["a", "b"]),
        ("{{ captured_data.login.profile }}", {"name": "Ann"}),
        ("{{ captured_data.login['user_id'] }}", 7),
        ("{{ env.page_size * 2 }}", 40),
        ("{{ shared_variables.tags | length }}", 2),
        ("{{ env.page_size }}x", "20x"),
        ("id={{ captured_data.login.user_id }}&r={{ env.region }}", "id=7&r=eu"),
        ("{{ shared_variables.tags[1] }}-{{ env.region | upper }}", "b-EU"),
        ("no template here", "no template here"),
        ("{ not a template }", "{ not a template }"),
    ],
)
def test_a_lone_expression_keeps_its_type_and_mixed_text_is_a_string(
    source: str, expected: Any
) -> None:
    """A string that is exactly one ``{{ expr }}`` keeps the native type; anything else is text."""
    assert Renderer(1).text(source, context(), "f") == expected


def test_plain_lookups_and_jinja_agree() -> None:
    """The fast path for plain lookups renders exactly what jinja2 renders."""
    renderer = Renderer(1)
    ctx = context()
    for source in (
        "{{ captured_data.login.user_id }}",
        "u/{{ captured_data.login.profile.name }}/{{ env.page_size }}",
        "{{ shared_variables.tags[0] }}",
        "{{ shared_auth_tokens['main'] }}",
        "{{captured_data . login [ 'profile' ] . name}}",
        "{{ captured_data.login['profile'] }}-{{ shared_variables.tags[1] }}",
    ):
        plain = renderer.text(source, ctx, "f")
        assert renderer._plain[source] is not None  # the fast path was taken
        jinja = renderer._render_jinja(source, ctx, "f")
        assert plain == jinja and type(plain) is type(jinja)


@pytest.mark.parametrize(
    ("source", "missing"),
    [
        ("Bearer {{ shared_auth_tokens.admin }}", "shared_auth_tokens.admin"),
        ("{{ captured_data.cart.id }}", "captured_data.cart"),
        ("{{ captured_data.login.token }}", "captured_data.login.token"),
        ("{{ nope }}", "nope"),
        ("{{ row.sku | upper }}", "row.sku"),
    ],
)
def test_a_missing_name_is_a_template_error_naming_field_and_name(
    source: str, missing: str
) -> None:
    """StrictUndefined: a missing name raises TemplateError naming the field and the full name."""
    with pytest.raises(TemplateError) as info:
        Renderer(1).text(source, context(), "request.headers.Authorization")
    assert info.value.field == "request.headers.Authorization"
    assert str(info.value) == f"request.headers.Authorization: '{missing}' is undefined"


def test_templates_cannot_mutate_the_shared_context() -> None:
    """The sandbox is immutable: a template cannot change shared variables."""
    ctx = context()
    with pytest.raises(TemplateError, match="unsafe"):
        Renderer(1).text("{{ shared_variables.update({'x': 1}) }}", ctx, "f")
    assert "x" not in ctx["shared_variables"]


def test_an_invalid_template_is_a_template_error() -> None:
    """A syntax error names the field and the template."""
    with pytest.raises(TemplateError, match=r"request.url: invalid template"):
        Renderer(1).text("/x/{{ oops", context(), "request.url")


def test_helpers_are_seeded() -> None:
    """uuid(), random_int() and random_string() repeat with the same seed and differ otherwise."""
    source = "{{ uuid() }} {{ random_int(1, 1000000) }} {{ random_string(16) }}"
    first = Renderer(42).text(source, context(), "f")
    again = Renderer(42).text(source, context(), "f")
    other = Renderer(43).text(source, context(), "f")
    assert first == again
    assert first != other
    uuid_text, number, letters = first.split()
    assert len(uuid_text) == 36 and uuid_text[14] == "4"
    assert 1 <= int(number) <= 1_000_000
    assert len(letters) == 16 and letters.isalnum()


def test_time_helpers() -> None:
    """now() is ISO 8601 in UTC and timestamp() an integer of seconds."""
    renderer = Renderer(1)
    assert renderer.text("{{ now() }}", context(), "f").endswith("+00:00")
    assert isinstance(renderer.text("{{ timestamp() }}", context(), "f"), int)


def test_each_template_is_compiled_once() -> None:
    """Rendering the same template twice reuses its compiled form."""
    renderer = Renderer(1)
    source = "{{ env.region | upper }}"
    renderer.text(source, context(), "f")
    compiled = renderer._jinja[source]
    renderer.text(source, context(), "f")
    assert renderer._jinja[source] is compiled


def test_request_renders_every_part_and_joins_the_base_url() -> None:
    """URL, query, headers (defaults under the test's own), JSON body (natively), form, body."""
    spec = RequestSpec.model_validate(
        {
            "method": "post",
            "url": "/users/{{ captured_data.login.user_id }}",
            "query": {"size": "{{ env.page_size }}", "plain": 1},
            "headers": {"Authorization": "Bearer {{ shared_auth_tokens.main }}"},
            "json": {
                "ids": ["{{ captured_data.login.user_id }}", "x{{ env.region }}"],
                "nested": {"tags": "{{ shared_variables.tags }}"},
            },
        }
    )
    rendered = Renderer(1).request(
        spec,
        context(),
        base_url="http://api.test/v1/",
        default_headers={"authorization": "ignored", "X-Region": "{{ env.region }}"},
    )
    assert rendered.method == "POST"
    assert rendered.url == "http://api.test/v1/users/7"
    assert rendered.params == {"size": 20, "plain": 1}
    assert rendered.headers == {"X-Region": "eu", "Authorization": "Bearer tok-123"}
    assert rendered.json_body == {"ids": [7, "xeu"], "nested": {"tags": ["a", "b"]}}


def test_request_error_names_the_nested_field() -> None:
    """A missing name deep in the JSON body names its path."""
    spec = RequestSpec.model_validate(
        {"url": "/x", "method": "POST", "json": {"items": [{"sku": "{{ row.sku }}"}]}}
    )
    with pytest.raises(TemplateError) as info:
        Renderer(1).request(spec, context(), base_url="http://t", default_headers={})
    assert info.value.field == "request.json.items[0].sku"
    assert info.value.name == "row.sku"


@pytest.mark.parametrize(
    ("base", "url", "joined"),
    [
        ("http://t", "/a", "http://t/a"),
        ("http://t/", "a", "http://t/a"),
        ("http://t/v1", "/a?b=1", "http://t/v1/a?b=1"),
        ("http://t", "https://other.test/x", "https://other.test/x"),
        (None, "http://abs.test/", "http://abs.test/"),
    ],
)
def test_join_url(base: str | None, url: str, joined: str) -> None:
    """Relative URLs join the base URL; absolute ones stay as they are."""
    assert join_url(base, url) == joined


def test_a_relative_url_without_base_url_is_a_template_error() -> None:
    """Nothing to join a relative URL to is reported on request.url."""
    with pytest.raises(TemplateError, match=r"request.url: relative URL '/a' needs a base URL"):
        join_url(None, "/a")
