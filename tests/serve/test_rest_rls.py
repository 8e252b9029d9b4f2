"""Row-level security through the JWT: what each signed-in user sees over ``/rest/v1``."""

from __future__ import annotations

import pytest
from postgrest.exceptions import APIError

from support_rest import new_user, organization, project, run, service_client, signed_in
from support_serve import ServeHandle


async def test_users_see_only_their_organisations_rows(serve: ServeHandle) -> None:
    """A member of org A sees A's organisation, projects and runs; a member of B sees only B's."""
    service = await service_client(serve)
    alice_id, alice_email = await new_user(service)
    bob_id, bob_email = await new_user(service)
    _, carol_email = await new_user(service)
    org_a = await organization(service, "org-a", {alice_id: "owner"})
    org_b = await organization(service, "org-b", {bob_id: "member"})
    project_a = await project(service, org_a, "api-a")
    project_b = await project(service, org_b, "api-b")
    run_a = await run(service, project_a)
    await run(service, project_b)

    alice = await signed_in(serve, alice_email)
    orgs = await alice.table("organizations").select("id, slug").execute()
    assert orgs.data == [{"id": org_a, "slug": "org-a"}]
    projects = await alice.table("projects").select("id").execute()
    assert projects.data == [{"id": project_a}]
    runs = await alice.table("test_runs").select("id", count="exact").execute()
    assert runs.data == [{"id": run_a}] and runs.count == 1
    # filters cannot widen what RLS allows
    other = await alice.table("projects").select("id").eq("id", project_b).execute()
    assert other.data == []

    bob = await signed_in(serve, bob_email)
    assert [
        o["slug"] for o in (await bob.table("organizations").select("slug").execute()).data
    ] == ["org-b"]

    carol = await signed_in(serve, carol_email)
    for table in ("organizations", "projects", "test_runs"):
        assert (await carol.table(table).select("*").execute()).data == []


async def test_writes_are_checked_by_policies(serve: ServeHandle) -> None:
    """A user may create an organisation it owns; a plain member may not start runs (42501)."""
    service = await service_client(serve)
    member_id, member_email = await new_user(service)
    org_id = await organization(service, "org-m", {member_id: "member"})
    project_id = await project(service, org_id, "api")
    member = await signed_in(serve, member_email)
    created = await member.table("organizations").insert({"name": "Mine", "slug": "mine"}).execute()
    assert created.data[0]["created_by"] == member_id
    memberships = (
        await member.table("organization_members")
        .select("role")
        .eq("organization_id", created.data[0]["id"])
        .execute()
    )
    assert memberships.data == [{"role": "owner"}]
    with pytest.raises(APIError) as refused:
        await member.table("test_runs").insert({"project_id": project_id}).execute()
    assert refused.value.code == "42501"
    assert "row-level security" in (refused.value.message or "")
    # an update that RLS filters away touches nothing
    renamed = (
        await member.table("organizations").update({"name": "Hijacked"}).eq("id", org_id).execute()
    )
    assert renamed.data == []
    check = await service.table("organizations").select("name").eq("id", org_id).single().execute()
    assert check.data == {"name": "Org-M"}


async def test_anon_is_refused_with_401(serve: ServeHandle) -> None:
    """The anon role has no grant on the tables: 401 with 42501, like PostgREST for anon."""
    from support_rest import anon_client

    anon = await anon_client(serve)
    with pytest.raises(APIError) as refused:
        await anon.table("organizations").select("*").execute()
    assert refused.value.code == "42501"
    assert refused.value.message == "permission denied for table organizations"
