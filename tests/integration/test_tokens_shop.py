"""Token renewal and suite users against the demo shop API, recorded in a real database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from test_store_postgres import BASE, rows, shop_api

from runner.api import run_suite
from runner.db.connect import Target
from runner.models import Status
from runner.secrets.crypto import SecretBox, generate_key
from runner.settings import Settings
from runner.store.postgres import PostgresStore
from runner.suite.load import load_suite_text

pytestmark = pytest.mark.db

# The first login asks for an already expired token (ttl_seconds 0); the re-run asks
# for a fresh one, because by then the token exists: "'user' in shared_auth_tokens".
REFRESH_SUITE = """
name: refresh-demo
tests:
  - id: login
    request:
      method: POST
      url: /auth/login
      json:
        email: alice@example.com
        password: demo-password
        ttl_seconds: "{{ 3600 if 'user' in shared_auth_tokens else 0 }}"
    captures:
      access_token: {path: $.access_token, as_token: user, refresh: {on_status: [401]}}
    checks: {status: 200}
  - id: profile
    request: {url: /profile, headers: {Authorization: "Bearer {{ shared_auth_tokens.user }}"}}
    checks:
      status: 200
      json: [{path: $.email, value: alice@example.com}]
"""

USERS_SUITE = """
name: users-demo
users:
  alice:
    role: member
    login:
      request:
        method: POST
        url: /auth/login
        json: {email: alice@example.com, password: demo-password}
      token: $.access_token
  bob:
    role: admin
    login:
      request:
        method: POST
        url: /auth/login
        json: {email: bob@example.com, password: demo-password}
      token: $.access_token
tests:
%s
"""


async def _run(url: str, tmp_path: Path, text: str, app: Any, box: SecretBox, **kw: Any) -> Any:
    store = PostgresStore(Target(url, embedded=True), spill_dir=tmp_path / "spill", cipher=box)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    async with store, client:
        return await run_suite(
            load_suite_text(text, file="suite.yaml"),
            store=store,
            client=client,
            base_url=BASE,
            services=(),
            seed=7,
            environ={},
            settings=Settings(_env_file=None),  # type: ignore[call-arg]
            **kw,
        )


async def test_an_expired_shop_token_is_renewed_retried_and_recorded(
    migrated_db: str, tmp_path: Path
) -> None:
    """profile gets 401 token_expired, login re-runs once, the retry passes; all of it stored."""
    app, box = shop_api.create_app(), SecretBox.from_base64(generate_key())
    result = await _run(migrated_db, tmp_path, REFRESH_SUITE, app, box)
    assert result.ok, [(r.key, r.message) for r in result.results]
    assert [r.key for r in result.results] == ["login", "login#refresh1", "profile"]
    stored = rows(
        migrated_db,
        "select r.test_key, r.status, array_agg(d.status_code order by d.ordinal) "
        "filter (where d.kind = 'attempt') from test_results r "
        "left join test_result_details d on d.result_id = r.id "
        "where r.run_id = %s group by r.test_key, r.status order by r.test_key",
        (result.run_id,),
    )
    assert stored == [
        ("login", "passed", [200]),
        ("login#refresh1", "passed", [200]),
        ("profile", "passed", [401, 200]),
    ]
    [(sealed,)] = rows(
        migrated_db,
        "select shared_auth_tokens ->> 'user' from test_execution_context where run_id = %s",
        (result.run_id,),
    )
    token = box.unseal(sealed)
    shop = app.state.shop
    _, expires_at = shop.tokens[token]  # the context holds the renewed, still valid token
    assert expires_at > shop.clock()


async def test_each_suite_user_logs_in_once_for_all_parallel_tests(
    migrated_db: str, tmp_path: Path
) -> None:
    """Six parallel tests as alice or bob cost one login each; every test sees its own user."""
    tests = "".join(
        f"  - id: profile_{i}\n    as_user: {user}\n    request: {{url: /profile}}\n"
        f"    checks: {{status: 200, json: [{{path: $.email, value: {user}@example.com}}]}}\n"
        for i, user in enumerate(["alice", "bob"] * 3)
    )
    app, box = shop_api.create_app(), SecretBox.from_base64(generate_key())
    result = await _run(migrated_db, tmp_path, USERS_SUITE % tests, app, box, concurrency=8)
    assert result.ok, [(r.key, r.message) for r in result.results]
    keys = {r.key for r in result.results}
    assert {"login_alice", "login_bob"} <= keys and len(keys) == 8
    assert len(app.state.shop.refresh) == 2  # one session (one login) per user
    stored = rows(
        migrated_db,
        "select jsonb_object_keys(shared_auth_tokens) from test_execution_context "
        "where run_id = %s order by 1",
        (result.run_id,),
    )
    assert stored == [("alice",), ("bob",)]
    by_key = {r.key: r for r in result.results}
    assert by_key["login_bob"].status is Status.PASSED
    assert by_key["login_bob"].tags == ("runner:user-login", "role:admin")
