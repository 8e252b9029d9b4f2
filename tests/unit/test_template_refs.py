"""The one grammar of references: template references, plain templates and plain JSONPaths."""

from __future__ import annotations

from typing import Any

import jinja2
import pytest
from jsonpath_ng.ext.parser import parse as jsonpath_parse

from runner.templating import refs
from runner.templating.refs import (
    Key,
    Reference,
    has_template,
    lone_expression,
    parsed_references,
    path_keys,
    split_template,
    state_uses,
    template_references,
)


def ref(root: str, *keys: Key) -> Reference:
    return Reference(root, keys)


CD = "captured_data"

# ------------------------------------------------------------ template references


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("/plain/url", set()),
        ('{"json": "text with {braces}"}', set()),
        ("{{ captured_data.login.token }}", {ref(CD, "login", "token")}),
        ("{{ captured_data['login']['token'] }}", {ref(CD, "login", "token")}),
        ('{{ captured_data["login"].token }}', {ref(CD, "login", "token")}),
        ("{{ captured_data.login }}", {ref(CD, "login")}),
        ("{{ captured_data.login.items[0].id }}", {ref(CD, "login")}),
        ("{{ captured_data.login['items'][0] }}", {ref(CD, "login", "items", 0)}),
        ("{{ captured_data.login.get('token') }}", {ref(CD, "login")}),
        ("{{ captured_data.login.token | upper }}", {ref(CD, "login", "token")}),
        ("{{ captured_data.login.token.upper() }}", {ref(CD, "login", "token")}),
        ("Bearer {{ shared_auth_tokens.user }}", {ref("shared_auth_tokens", "user")}),
        ("{{ shared_auth_tokens['admin'] }}", {ref("shared_auth_tokens", "admin")}),
        ("{{ shared_variables.price }}", {ref("shared_variables", "price")}),
        ("{{ captured_data[row.test].id }}", {ref(CD), ref("row", "test")}),
        ("{{ captured_data }}", {ref(CD)}),
        (
            "{{ env.base }}/{{ row.id }}/{{ secrets.key }}/{{ uuid() }}",
            {ref("env", "base"), ref("row", "id"), ref("secrets", "key")},
        ),
        (
            "{% for x in captured_data.cart.lines %}{{ x }}{% endfor %}",
            {ref(CD, "cart", "lines"), ref("x")},
        ),
        (
            "{{ captured_data.a.x }}-{{ captured_data.b.y }}{# {{ captured_data.c.z }} #}",
            {ref(CD, "a", "x"), ref(CD, "b", "y")},
        ),
        ("{{- captured_data.a.x -}}", {ref(CD, "a", "x")}),
        (
            "{{ captured_data.a.x if true else shared_variables.v }}",
            {ref(CD, "a", "x"), ref("shared_variables", "v")},
        ),
        # whitespace between tokens, as jinja2 allows it
        ("{{captured_data.a.b}}", {ref(CD, "a", "b")}),
        ("{{ captured_data . a [ 'b' ] [ 0 ] }}", {ref(CD, "a", "b", 0)}),
        ("{{\n  captured_data.a\n  .b\n}}", {ref(CD, "a", "b")}),
        # quoted keys: anything but their quote and a backslash is read as it is
        ("{{ row['first name'] }}", {ref("row", "first name")}),
        ('{{ row["it\'s"] }}', {ref("row", "it's")}),
        ("{{ row['a.b']['x]'] }}", {ref("row", "a.b", "x]")}),
        ("{{ row['{{'] }}", {ref("row", "{{")}),
        ("{{ row['it\\'s'] }}", {ref("row", "it's")}),
        ("{{ row[''] }}", {ref("row", "")}),
        # numeric indices, and the dotted form jinja2 also reads as an index
        ("{{ row.list[10] }}", {ref("row", "list", 10)}),
        ("{{ row.list.0 }}", {ref("row", "list", 0)}),
        ("{{ row[0].x }}", {ref("row", 0, "x")}),
        ("{{ row.list[1.5] }}", {ref("row", "list")}),
        ("{{ row.list[true] }}", {ref("row", "list")}),
        # expressions that read no name
        ("{{ 1 + 2 }}", set()),
        ("{{ 'text' }}", set()),
        ("{{ uuid() }}-{{ random_int(1, 5) }}", set()),
        ("{{ '{{ row.x }}' }}", set()),
        # names read inside other expressions
        ("{{ a + b.c }}", {ref("a"), ref("b", "c")}),
        ("{{ f(row.x) }}", {ref("row", "x")}),
        ("{{ row.x is defined }}", {ref("row", "x")}),
        ("{{ [row][0].x }}", {ref("row")}),
        ("{{ café.x }}", {ref("café", "x")}),
    ],
)
def test_template_references_reads_every_form(template: str, expected: set[Reference]) -> None:
    """Attribute, subscript, bare, filtered, called, spaced, quoted and statement forms."""
    assert template_references(template) == expected


@pytest.mark.parametrize(
    "template", ["{{ captured_data.login.token ", "{{ row[007] }}", "{{ {{ a }} }}", "{% if %}"]
)
def test_template_references_raises_on_bad_syntax(template: str) -> None:
    """A template jinja2 cannot parse raises its syntax error, leading zeros included."""
    with pytest.raises(jinja2.TemplateSyntaxError):
        template_references(template)


SIMPLE = [
    "{{ captured_data.login.token }}",
    "/a/{{ captured_data['x'][\"y\"] }}/b/{{ shared_auth_tokens.u }}",
    "{{ captured_data . login . token }}",
    "{{captured_data.login[0]}}",
    "{{ captured_data[0].x }}",
    "{{ captured_data.items }}",
    "{{ captured_data.login.keys }}",
    "{{ captured_data.login['keys'] }}",
    "{{ shared_variables.a.b.c }}",
    "{{ row.x }} {{ env.y }}",
    "}} {{ captured_data.a }} }}",
    "{{ row['a.b']['x]'][\"it's\"] }}",
    "{{ row['{{'] }}",
    "{{\trow\n.x }}",
    "{{ row }}",
]


@pytest.mark.parametrize("template", SIMPLE)
def test_the_fast_reading_agrees_with_jinja(template: str) -> None:
    """Templates of plain blocks are read without jinja2, and read as its syntax tree says."""
    assert refs._simple_references(template) is not None
    assert template_references(template) == parsed_references(template)


@pytest.mark.parametrize(
    "template",
    [
        "plain",
        "{ not a template }",
        "}} only",
        "{{ a",
        "{{ a }} {{ b",
        "{% if x %}{% endif %}",
        "{# c #}{{ a }}",
        "{{ f() }}",
        "{{ a | upper }}",
        "{{- a -}}",
        "{{ 'a}}b' }}",
        "{{ a.items }}",
        "{{ a.b.get }}",
        "{{ a[007] }}",
        "{{ a['x\\'y'] }}",
        "{{ a[-1] }}",
        "{{ a.0 }}",
        "{{ café }}",
        "{{ a b }}",
        "{{ 1 }}",
    ],
)
def test_split_template_leaves_anything_else_to_jinja(template: str) -> None:
    """Statements, comments, filters, calls, methods and odd tokens are not plain."""
    assert split_template(template) is None


@pytest.mark.parametrize(
    ("template", "parts"),
    [
        ("{{ a }}", (ref("a"),)),
        ("x{{ a.b }}y", ("x", ref("a", "b"), "y")),
        ("{{ a['items'] }}-{{ b[2] }}", (ref("a", "items"), "-", ref("b", 2))),
        ("}} {{ a }}", ("}} ", ref("a"))),
    ],
)
def test_split_template_gives_text_and_references(
    template: str, parts: tuple[str | Reference, ...]
) -> None:
    """A plain template is its text and its references, in order."""
    assert split_template(template) == parts


@pytest.mark.parametrize(
    ("template", "uses"),
    [
        ("{{ captured_data.login.token }}", {(CD, "login", "token")}),
        ("{{ captured_data.login['items'][0] }}", {(CD, "login", "items")}),
        (
            "{{ captured_data.login[0] }}{{ captured_data.login.x.y }}",
            {(CD, "login", None), (CD, "login", "x")},
        ),
        ("{{ captured_data[0].x }}{{ captured_data[row.t].x }}{{ captured_data }}", set()),
        (
            "{{ shared_auth_tokens.user }} {{ shared_variables['v'] | int }}",
            {("shared_auth_tokens", "user", None), ("shared_variables", "v", None)},
        ),
        ("{{ env.x }}/{{ row.y }}/{{ secrets.z }}/{{ credentials.a.b }}", set()),
        ("no template", set()),
    ],
)
def test_state_uses_are_the_shared_state_read_by_name(
    template: str, uses: set[tuple[str, str, str | None]]
) -> None:
    """The plan waits for captured data, tokens and variables named by constant keys."""
    assert set(state_uses(template)) == uses
    assert len(state_uses(template)) == len(uses)


def test_markers_and_lone_expressions() -> None:
    """has_template finds jinja2 markers; lone_expression the inside of one block alone."""
    assert [has_template(t) for t in ("{x}", "{{x}}", "{% x %}", "{# c #}", "x")] == [
        False,
        True,
        True,
        True,
        False,
    ]
    assert lone_expression("{{ a.b | upper }}") == "a.b | upper"
    assert lone_expression("{{- a -}}") == "a"
    assert lone_expression("x{{ a }}") is None
    assert lone_expression("{{ a }}{{ b }}") is None
    assert lone_expression("{{ '{%' }}") is None


# --------------------------------------------------------------- plain JSONPaths


@pytest.mark.parametrize(
    ("path", "keys"),
    [
        ("$", ()),
        ("$.a.b[0]", ("a", "b", 0)),
        ("$['first name'][\"c\"]", ("first name", "c")),
        ("$['a]b'].c", ("a]b", "c")),
        ("$.items.keys", ("items", "keys")),
        ("$[10]", (10,)),
    ],
)
def test_path_keys_of_plain_paths(path: str, keys: tuple[Key, ...]) -> None:
    """A plain JSONPath is its keys; JSONPath has no methods, so ``.items`` is a key."""
    assert path_keys(path) == keys


@pytest.mark.parametrize(
    "path",
    [
        "a.b",
        "$..a",
        "$.a[*]",
        "$.*",
        "$.a[-1]",
        "$.a[0:2]",
        "$[007]",
        "$. a",
        "$[ 0 ]",
        "$['a\\'b']",
    ],
)
def test_path_keys_leaves_richer_paths_to_jsonpath_ng(path: str) -> None:
    """Wildcards, descent, slices, spaces and escapes are not plain."""
    assert path_keys(path) is None


BODY: dict[str, Any] = {
    "a": {"b": [{"c": 1}, {"c": 2}]},
    "first name": "Ann",
    "a]b": {"c": 3},
    "items": {"keys": 4},
    "list": list(range(11)),
}


@pytest.mark.parametrize(
    "path", ["$", "$.a.b[1].c", "$['first name']", "$['a]b'][\"c\"]", "$.items.keys", "$.list[10]"]
)
def test_plain_paths_select_what_jsonpath_ng_selects(path: str) -> None:
    """Walking a plain path's keys gives the one value jsonpath-ng finds."""
    keys = path_keys(path)
    assert keys is not None
    value: Any = BODY
    for key in keys:
        value = value[key]
    assert [value] == [m.value for m in jsonpath_parse(path).find(BODY)]
