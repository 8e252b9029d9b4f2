"""``/rest/v1/rpc``: our run functions and result shapes (scalar, void, set, composite)."""

from __future__ import annotations

import httpx
import psycopg
import pytest
from postgrest.exceptions import APIError

from support_rest import new_user, organization, project, run, service_client, signed_in
from support_serve import ServeHandle

# organizations is used as a plain table here: start without the default `local`
pytestmark = pytest.mark.usefixtures("no_default_org")


async def test_run_functions_with_the_service_key(serve: ServeHandle) -> None:
    """init_run_context returns a scalar, record_results an integer, finish_run nothing (204)."""
    service = await service_client(serve)
    org_id = await organization(service, "rpc-org")
    run_id = await run(service, await project(service, org_id, "api"), total_tests=1)
    context_id = await service.rpc(
        "init_run_context", {"p_run_id": run_id, "p_test_order": ["login"]}
    ).execute()
    assert isinstance(context_id.data, str) and len(context_id.data) == 36
    results = [{"test_key": "login", "test_name": "login", "status": "passed"}]
    recorded = await service.rpc(
        "record_results", {"p_run_id": run_id, "p_results": results}
    ).execute()
    assert recorded.data == 1
    async with httpx.AsyncClient() as http:
        finished = await http.post(
            f"{serve.url}/rest/v1/rpc/finish_run",
            json={"p_run_id": run_id, "p_status": "passed"},
            headers={"apikey": serve.service_role_key},
        )
    assert finished.status_code == 204 and finished.content == b""
    status = (
        await service.table("test_runs")
        .select("status, passed_tests")
        .eq("id", run_id)
        .single()
        .execute()
    )
    assert status.data == {"status": "passed", "passed_tests": 1}


async def test_function_errors_keep_postgres_codes(serve: ServeHandle) -> None:
    """A function raising 42501 is refused with that code; a bad argument keeps its code."""
    service = await service_client(serve)
    _, email = await new_user(service)
    org_id = await organization(service, "other-org")
    run_id = await run(service, await project(service, org_id, "api"))
    outsider = await signed_in(serve, email)
    with pytest.raises(APIError) as refused:
        await outsider.rpc("finish_run", {"p_run_id": run_id, "p_status": "passed"}).execute()
    assert refused.value.code == "42501"
    with pytest.raises(APIError) as bad:
        await service.rpc("finish_run", {"p_run_id": run_id, "p_status": "sideways"}).execute()
    assert bad.value.code == "22023" and "p_status" in (bad.value.message or "")


async def test_unknown_function_or_arguments_is_pgrst202(serve: ServeHandle) -> None:
    """Calling a missing function, or with names it does not take, is 404 PGRST202."""
    service = await service_client(serve)
    with pytest.raises(APIError) as missing:
        await service.rpc("no_such_function", {}).execute()
    assert missing.value.code == "PGRST202"
    with pytest.raises(APIError) as wrong:
        await service.rpc("finish_run", {"run": "x"}).execute()
    assert wrong.value.code == "PGRST202"
    assert (
        wrong.value.message
        == "Could not find the function public.finish_run(run) in the schema cache"
    )


async def test_set_and_composite_results_and_get_calls(serve: ServeHandle) -> None:
    """setof rows: filterable array; composite: object; setof scalar: array; GET passes args."""
    service = await service_client(serve)
    for slug in ("a", "b", "c"):
        await organization(service, slug)
    with psycopg.connect(serve.db_url, autocommit=True) as conn:
        # added after serve started: the schema cache reloads on the first miss
        conn.execute(
            "create function public.orgs_after(p_slug text) returns setof public.organizations "
            "language sql stable as $$ select * from public.organizations where slug > p_slug $$"
        )
        conn.execute(
            "create function public.org_by_slug(p_slug text) returns public.organizations "
            "language sql stable as $$ select * from public.organizations where slug = p_slug $$"
        )
        conn.execute(
            "create function public.squares(n int) returns setof int "
            "language sql immutable as $$ select g * g from generate_series(1, n) g $$"
        )
        conn.execute("grant execute on all functions in schema public to service_role")
    rows = (
        await service.rpc("orgs_after", {"p_slug": "a"})
        .select("slug")
        .order("slug", desc=True)
        .execute()
    )
    assert rows.data == [{"slug": "c"}, {"slug": "b"}]
    filtered = await service.rpc("orgs_after", {"p_slug": "a"}).eq("slug", "b").execute()
    assert [r["slug"] for r in filtered.data] == ["b"]
    one = await service.rpc("org_by_slug", {"p_slug": "b"}).execute()
    assert isinstance(one.data, dict) and one.data["slug"] == "b"
    squares = await service.rpc("squares", {"n": 3}).execute()
    assert squares.data == [1, 4, 9]
    got = await service.rpc("squares", {"n": 2}, get=True).execute()
    assert got.data == [1, 4]
