"""Squatting, end to end through a live ``serve``: a slug does not decide whose runs are whose.

A user signs up and creates ``CI Prod`` (slug ``ci-prod``) over REST before the runner
ever records there. Service-role runs configured with ``RUNNER_ORGANIZATION="CI Prod"``
are refused; with ``RUNNER_ORGANIZATION_ID`` they land in the intended owner's
organisation. Either way the squatter, querying over REST, sees no row of them.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from supabase import AsyncClient

from runner.api import run_suite
from runner.errors import RunnerError
from runner.settings import Settings
from runner.store.factory import open_store
from runner.suite.load import load_suite_text
from support_rest import PASSWORD, anon_client
from support_serve import ServeHandle
from support_stores import KINDS

pytestmark = pytest.mark.db

SUITE = """
name: deploy checks
base_url: http://api.test
tests:
  - id: ping
    request: {url: /ping}
    checks: {status: 200}
"""
# everything a member of the organisation could read about a run
RUN_TABLES = ("projects", "test_suites", "test_cases", "test_runs", "test_results")
RUN_TABLES_DETAILS = (*RUN_TABLES, "test_result_details", "test_execution_context")


async def sign_up(serve: ServeHandle) -> tuple[AsyncClient, str]:
    """A user who signed up through /auth/v1 (auto-confirmed), and their id."""
    client = await anon_client(serve)
    email = f"user-{uuid.uuid4().hex[:8]}@example.com"
    result = await client.auth.sign_up({"email": email, "password": PASSWORD})
    assert result.user is not None
    return client, result.user.id


def service_settings(serve: ServeHandle, kind: str, data_dir: Path, **env: str) -> Settings:
    """The runner as the service role, through Postgres or through serve's REST."""
    values: dict[str, Any] = {"RUNNER_DATA_DIR": str(data_dir), **env}
    if kind == "postgres":
        values["RUNNER_DATABASE_URL"] = serve.db_url
    else:
        values.update(
            RUNNER_STORE="supabase", SUPABASE_URL=serve.url, SUPABASE_KEY=serve.service_role_key
        )
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def record(settings: Settings) -> str:
    """Run the one-test suite and record it; the run's id."""
    suite = load_suite_text(SUITE, file="deploy.yaml")
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json={"pong": True}))
    async with open_store(settings) as store, httpx.AsyncClient(transport=transport) as client:
        result = await run_suite(suite, store=store, client=client, services=(), settings=settings)
    assert result.run_id is not None
    return str(result.run_id)


async def visible_rows(client: AsyncClient) -> dict[str, int]:
    """How many rows of each run table ``client``'s user reads over REST."""
    counts = {}
    for table in RUN_TABLES_DETAILS:
        answer = await client.table(table).select("*", count="exact").execute()
        counts[table] = answer.count or 0
    return counts


@pytest.mark.parametrize("kind", KINDS)
async def test_a_squatted_slug_never_receives_service_role_runs(
    serve: ServeHandle, kind: str, tmp_path: Path
) -> None:
    """By slug the run is refused; by id it lands in the owner's organisation; the squatter
    sees no row of either."""
    squatter, _ = await sign_up(serve)
    squatted = (
        await squatter.table("organizations")
        .insert({"name": "CI Prod", "slug": "ci-prod"})
        .execute()
    )
    squatted_id = squatted.data[0]["id"]
    owner, _ = await sign_up(serve)
    mine = (
        await owner.table("organizations")
        .insert({"name": "CI Prod", "slug": "ci-prod-team"})
        .execute()
    )
    owner_org = mine.data[0]["id"]

    by_slug = service_settings(serve, kind, tmp_path / "a", RUNNER_ORGANIZATION="CI Prod")
    with pytest.raises(RunnerError, match="only by id"):
        await record(by_slug)
    by_id = service_settings(
        serve, kind, tmp_path / "b", RUNNER_ORGANIZATION="CI Prod", RUNNER_ORGANIZATION_ID=owner_org
    )
    run_id = await record(by_id)

    runs = await owner.table("test_runs").select("id, organization_id").execute()
    assert runs.data == [{"id": run_id, "organization_id": owner_org}]
    assert (await visible_rows(owner))["test_results"] == 1
    assert await visible_rows(squatter) == dict.fromkeys(RUN_TABLES_DETAILS, 0)
    assert (await squatter.table("organizations").select("id").execute()).data == [
        {"id": squatted_id}
    ]


async def test_runner_slugs_cannot_be_claimed_and_read_as_invalid(
    serve: ServeHandle, tmp_path: Path
) -> None:
    """After the runner records into ci-prod, a user claiming it (or `local`) gets exactly the
    answer a malformed slug gets, a 400 and not a 409, and sees no row of the run."""
    await record(service_settings(serve, "postgres", tmp_path, RUNNER_ORGANIZATION="CI Prod"))
    user, _ = await sign_up(serve)
    token = (await user.auth.get_session()).access_token  # type: ignore[union-attr]
    headers = {"apikey": serve.anon_key, "Authorization": f"Bearer {token}"}
    answers = []
    async with httpx.AsyncClient(base_url=f"{serve.url}/rest/v1", headers=headers) as http:
        for slug in ("ci-prod", "local", "Not A Slug!"):
            response = await http.post("/organizations", json={"name": "Mine", "slug": slug})
            answers.append((response.status_code, response.json()))
        assert answers[0][0] == 400 and answers[0][1]["code"] == "23514"
        assert answers[1:] == [answers[0], answers[0]]
        created = await http.post(
            "/organizations",
            json={"name": "Mine", "slug": "mine"},
            headers={"Prefer": "return=representation"},
        )
        assert created.status_code == 201
        renamed = await http.patch(
            "/organizations", params={"slug": "eq.mine"}, json={"slug": "ci-prod"}
        )
        assert (renamed.status_code, renamed.json()) == answers[0]
    assert await visible_rows(user) == dict.fromkeys(RUN_TABLES_DETAILS, 0)
