"""Renewing an expired shared token by re-running its producer, against httpx.MockTransport."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from test_engine import RecordingStore, by_key, plan_of, run

from runner.errors import SuiteError
from runner.models import Status
from runner.suite.load import load_suite_text

SUITE = """
name: refresh
base_url: http://api.test
tests:
  - id: login
    request: {method: POST, url: /login}
    captures:
      token: {path: $.token, as_token: user, refresh: {on_status: [401]%s}}
  - id: a
    request: {url: /a, headers: {Authorization: "Bearer {{ shared_auth_tokens.user }}"}}
    checks: {status: 200}
  - id: b
    request: {url: /b, headers: {Authorization: "Bearer {{ shared_auth_tokens.user }}"}}
    checks: {status: 200}
"""


class Api:
    """Login n hands out token tn; only the newest is accepted (t1 too, unless first_stale)."""

    def __init__(self, *, hold: int = 0, first_stale: bool = False, fail_relogin: bool = False):
        self.logins = 0
        self.hold = hold
        self.first_stale = first_stale
        self.fail_relogin = fail_relogin
        self.stale = 0
        self.all_stale = asyncio.Event()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/login":
            self.logins += 1
            if self.fail_relogin and self.logins > 1:
                return httpx.Response(500, json={"error": "down"})
            return httpx.Response(200, json={"token": f"t{self.logins}"})
        newest = f"Bearer t{self.logins}"
        if request.headers["authorization"] != newest or (self.first_stale and self.logins == 1):
            self.stale += 1
            if self.stale == self.hold:
                self.all_stale.set()
            if self.hold:  # answer only once every parallel test has sent its stale token
                await self.all_stale.wait()
            return httpx.Response(401, json={"code": "token_expired"})
        return httpx.Response(200, json={"ok": True})


async def test_parallel_tests_that_get_401_share_one_producer_rerun() -> None:
    """Two parallel tests rejected with 401 cause one login#refresh1; both retry and pass."""
    api = Api(hold=2, first_stale=True)
    store = RecordingStore()
    result = await run(SUITE % "", api, concurrency=8, store=store)
    results = by_key(result)
    assert api.logins == 2
    assert set(results) == {"login", "login#refresh1", "a", "b"}
    assert all(r.status is Status.PASSED for r in results.values()), results
    for key in ("a", "b"):
        assert [x.status_code for x in results[key].attempts] == [401, 200]
        assert [x.number for x in results[key].attempts] == [1, 2]
    assert "login#refresh1" in store.results
    tokens = [c[3] for c in store.calls if c[0] == "context_changed"]
    assert tokens == [{"user": "t1"}, {"user": "t2"}]


async def test_a_token_past_its_lifetime_is_renewed_before_the_request() -> None:
    """With lifetime_s: 0 the producer runs again before each request, which then succeeds."""
    api = Api()
    result = await run(SUITE % ", lifetime_s: 0", api, concurrency=1)
    results = by_key(result)
    assert results["a"].status is Status.PASSED
    assert [x.status_code for x in results["a"].attempts] == [200]
    assert {"login#refresh1", "login#refresh2"} <= set(results)  # one before a, one before b
    assert api.logins == 3


async def test_a_failed_renewal_is_not_repeated_by_each_waiting_test() -> None:
    """When the producer's re-run fails, both tests keep their 401 and nobody re-runs it again."""
    api = Api(hold=2, first_stale=True, fail_relogin=True)
    result = await run(SUITE % "", api, concurrency=8)
    results = by_key(result)
    assert api.logins == 2
    assert results["login#refresh1"].status is Status.ERROR
    assert "login#refresh2" not in results
    assert results["a"].status is Status.FAILED and results["a"].status_code == 401
    assert results["b"].status is Status.FAILED


def test_refresh_without_as_token_is_a_suite_error() -> None:
    """refresh: on a capture that publishes no token is rejected when the suite loads."""
    text = """
name: s
base_url: http://api.test
tests:
  - id: login
    request: {url: /login}
    captures:
      token: {path: $.token, refresh: {on_status: [401]}}
"""
    with pytest.raises(SuiteError, match="refresh needs as_token"):
        load_suite_text(text, file="suite.yaml")


def test_the_producer_is_planned_before_its_users() -> None:
    """A refreshable token adds the same inferred edge as any token."""
    plan = plan_of(SUITE % "")
    assert plan.dependencies("a") == ("login",)
