"""``/rest/v1`` answers malformed input with PostgREST's 4xx codes and JSON, never a 500.

Malformed means: a NUL byte, bytes that are not UTF-8, a ``%`` that is not an escape,
a ``%`` in a name, an over-long name or number. The fuzz test draws 100 queries with
hypothesis (derandomized: the same 100 on every run), each with at least one such part
among well-formed ones, and sends them to a live ``serve``.
"""

from __future__ import annotations

import json
import socket

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from support_serve import ServeHandle

SHAPE = {"code", "details", "hint", "message"}
DRIVER_TEXT = ("psycopg", "PostgreSQL text fields", "Traceback", "0x00) bytes")

PATHS = ("organizations", "projects", "test_runs", "rpc/start_suite_run")
WELL_FORMED = (
    "select=id",
    "order=id.desc",
    "limit=5",
    "offset=1",
    "id=eq.00000000-0000-0000-0000-000000000000",
    "created_at=gt.2020-01-01",
)
# bytes Postgres cannot store in text, malformed escapes, and a '%' inside a name
NUL = ("%00", "a%00", "%00%00")
NOT_UTF8 = ("%FF", "%C3%28", "%80", "%ED%A0%80", "%C0%AF", "%F8%88%80%80%80", "%E2%82")
BAD_ESCAPE = ("%", "%zz", "%4", "%G0", "a%s")
PERCENT_NAME = ("%25", "a%25s", "%25s%25s", "x%25y")
# no hex digit: text after a broken escape must not complete it
SAFE = st.text(alphabet="ghijklmnopqrstuvwxyz_", min_size=0, max_size=8)


@st.composite
def _anywhere(draw: st.DrawFn) -> str:
    """A NUL, a non-UTF-8 byte or a broken escape in a name or a value."""
    bad = draw(st.sampled_from(NUL + NOT_UTF8 + BAD_ESCAPE))
    text = draw(SAFE) + bad + draw(SAFE)
    where = draw(st.sampled_from(("key", "eq", "in", "or", "select", "order", "limit", "arg")))
    return {
        "key": f"{text}=eq.1",
        "eq": f"slug=eq.{text}",
        "in": f"id=in.({text},b)",
        "or": f"or=(slug.eq.{text},name.is.null)",
        "select": f"select=id,{text}",
        "order": f"order={text}.asc",
        "limit": f"limit={text}",
        "arg": f"p_request={text}",
    }[where]


@st.composite
def _bad_name(draw: st.DrawFn) -> str:
    """A name no table has: with a '%' in it, or longer than Postgres's 63 bytes."""
    if draw(st.booleans()):
        name = draw(SAFE) + draw(st.sampled_from(PERCENT_NAME)) + draw(SAFE)
    else:
        name = "n" * draw(st.integers(min_value=64, max_value=20_000))
    where = draw(st.sampled_from(("select", "alias", "order", "filter")))
    return {
        "select": f"select={name}",
        "alias": f"select={name}:nope{name[:3]}",
        "order": f"order={name}.desc",
        "filter": f"{name}=eq.1",
    }[where]


@st.composite
def _too_big(draw: st.DrawFn) -> str:
    """A limit or offset with more digits than a bigint holds."""
    digits = "9" * draw(st.integers(min_value=20, max_value=4_000))
    return f"{draw(st.sampled_from(('limit', 'offset')))}={digits}"


@st.composite
def malformed_request(draw: st.DrawFn) -> str:
    """A path and query with one or two malformed parts among well-formed ones."""
    path = draw(st.sampled_from(PATHS))
    bad = draw(st.lists(st.one_of(_anywhere(), _bad_name(), _too_big()), min_size=1, max_size=2))
    taken = {part.partition("=")[0] for part in bad}
    # a repeated limit/order/select would replace the malformed one: other keys only
    others = [part for part in WELL_FORMED if part.partition("=")[0] not in taken]
    good = draw(st.lists(st.sampled_from(others), max_size=3, unique=True))
    parts = draw(st.permutations(bad + good))
    if path.startswith("rpc/"):
        # an RPC's arguments: only the malformed parts, so none is a well-formed call
        parts = bad
    return f"/rest/v1/{path}?{'&'.join(parts)}"


@pytest.fixture
def http(serve: ServeHandle) -> httpx.Client:
    """A plain HTTP client with the service_role key (no RLS: every answer is the edge's)."""
    return httpx.Client(base_url=serve.url, headers={"apikey": serve.service_role_key}, timeout=30)


@settings(
    max_examples=100,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(target=malformed_request())
def test_fuzzed_malformed_queries_are_4xx_postgrest_json(http: httpx.Client, target: str) -> None:
    """Each of 100 fuzzed malformed queries is a 4xx with PostgREST's JSON and no driver text."""
    response = http.send(http.build_request("GET", httpx.URL(target)))
    assert 400 <= response.status_code < 500, (target[:200], response.status_code, response.text)
    body = response.json()
    assert set(body) == SHAPE and isinstance(body["code"], str), body
    assert not any(text in response.text for text in DRIVER_TEXT), response.text


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("select=id&slug=eq.%00", "22021"),
        ("slug=in.(%00)", "22021"),
        ("or=(slug.eq.%00)", "22021"),
        ("slug=eq.%FF%FE", "22021"),
        ("slug=eq.a%zz", "PGRST100"),
        ("select=a%25s", "PGRST100"),
    ],
)
def test_known_cases_answer_postgrest_codes(http: httpx.Client, query: str, code: str) -> None:
    """The cases that were 500s (NUL, non-UTF-8, broken escapes) get their PostgREST code."""
    response = http.get(httpx.URL(f"/rest/v1/organizations?{query}"))
    assert response.status_code == 400, response.text
    assert response.json()["code"] == code


def test_percent_alias_reads_the_rows(http: httpx.Client) -> None:
    """``select=a%25s:id`` is a well-formed alias "a%s": rows come back under that key."""
    response = http.get(httpx.URL("/rest/v1/organizations?select=a%25s:slug&slug=eq.local"))
    assert response.status_code == 200, response.text
    assert response.json() == [{"a%s": "local"}]


def test_an_over_long_query_string_is_414_postgrest_json(serve: ServeHandle) -> None:
    """A query string over 64 KiB (longer than httpx will send) is 414 with PostgREST's JSON."""
    host, port = serve.url.removeprefix("http://").split(":")
    head = (
        f"GET /rest/v1/organizations?select={'a' * 70_000} HTTP/1.1\r\nHost: {host}\r\n"
        f"apikey: {serve.service_role_key}\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head.encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == b"414", status_line
    body = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert set(body) == SHAPE and body["code"] == "PGRST100"
