"""``/rest/v1`` reads through supabase-py: columns, filters, order, paging, counts, embedding."""

from __future__ import annotations

import httpx
import pytest
from postgrest.exceptions import APIError
from supabase import AsyncClient

from support_rest import organization, project, service_client
from support_serve import ServeHandle

# organizations is used as a plain table here: start without the default `local`
pytestmark = pytest.mark.usefixtures("no_default_org")


async def _projects(serve: ServeHandle) -> tuple[AsyncClient, str]:
    service = await service_client(serve)
    org_id = await organization(service, "acme")
    for i, slug in enumerate(["alpha", "beta", "gamma", "delta", "epsilon"]):
        row = {"organization_id": org_id, "name": slug.title(), "slug": slug}
        if i % 2 == 0:
            row["description"] = f"project {i}"
        await service.table("projects").insert(row).execute()
    return service, org_id


async def test_select_columns_and_aliases(serve: ServeHandle) -> None:
    """A column list returns exactly those keys, renamed by ``alias:column``."""
    service, _ = await _projects(serve)
    result = await service.table("projects").select("slug, title:name").eq("slug", "beta").execute()
    assert result.data == [{"slug": "beta", "title": "Beta"}]


async def test_comparison_and_pattern_filters(serve: ServeHandle) -> None:
    """eq, neq, gt, gte, lt, lte, like, ilike, in and is filter like PostgREST."""
    service, _ = await _projects(serve)
    table = service.table("projects")

    async def slugs(query: object) -> list[str]:
        result = await query.order("slug").execute()  # type: ignore[attr-defined]
        return [row["slug"] for row in result.data]

    assert await slugs(table.select("slug").neq("slug", "beta").lt("slug", "e")) == [
        "alpha",
        "delta",
    ]
    assert await slugs(table.select("slug").gt("slug", "delta").lte("slug", "gamma")) == [
        "epsilon",
        "gamma",
    ]
    assert await slugs(table.select("slug").gte("slug", "gamma")) == ["gamma"]
    assert await slugs(table.select("slug").like("name", "%ta")) == ["beta", "delta"]
    assert await slugs(table.select("slug").ilike("name", "ALP*")) == ["alpha"]
    assert await slugs(table.select("slug").in_("slug", ["beta", "delta", "nope"])) == [
        "beta",
        "delta",
    ]
    assert await slugs(table.select("slug").is_("description", "null")) == ["beta", "delta"]
    assert await slugs(table.select("slug").not_.is_("description", "null")) == [
        "alpha",
        "epsilon",
        "gamma",
    ]
    assert await slugs(table.select("slug").or_("slug.eq.alpha,name.eq.Gamma")) == [
        "alpha",
        "gamma",
    ]
    assert await slugs(table.select("slug").not_.in_("slug", ["alpha", "beta"])) == [
        "delta",
        "epsilon",
        "gamma",
    ]


async def test_order_several_columns_with_nulls(serve: ServeHandle) -> None:
    """Order by several columns, descending, with nulls first."""
    service, _ = await _projects(serve)
    result = (
        await service.table("projects")
        .select("slug")
        .order("description", desc=True, nullsfirst=True)
        .order("slug")
        .execute()
    )
    assert [r["slug"] for r in result.data] == ["beta", "delta", "epsilon", "gamma", "alpha"]


async def test_limit_offset_range_and_exact_count(serve: ServeHandle) -> None:
    """limit/range page the rows; count=exact reports the total in Content-Range."""
    service, _ = await _projects(serve)
    page = (
        await service.table("projects")
        .select("slug", count="exact")
        .order("slug")
        .range(1, 2)
        .execute()
    )
    assert [r["slug"] for r in page.data] == ["beta", "delta"]
    assert page.count == 5
    first = await service.table("projects").select("slug").order("slug").limit(2).execute()
    assert [r["slug"] for r in first.data] == ["alpha", "beta"]
    head = (
        await service.table("projects")
        .select("*", count="exact", head=True)
        .eq("slug", "beta")
        .execute()
    )
    assert head.count == 1
    async with httpx.AsyncClient() as http:
        response = await http.get(
            f"{serve.url}/rest/v1/projects",
            params={"select": "slug", "order": "slug"},
            headers={
                "apikey": serve.service_role_key,
                "Range": "0-1",
                "Range-Unit": "items",
                "Prefer": "count=exact",
            },
        )
        assert response.status_code == 206
        assert response.headers["content-range"] == "0-1/5"
        empty = await http.get(
            f"{serve.url}/rest/v1/projects",
            params={"slug": "eq.nope"},
            headers={"apikey": serve.service_role_key, "Prefer": "count=exact"},
        )
        assert empty.json() == [] and empty.headers["content-range"] == "*/0"


async def test_single_and_maybe_single(serve: ServeHandle) -> None:
    """single() returns one object or raises PGRST116 (406); maybe_single() may give None."""
    service, _ = await _projects(serve)
    one = await service.table("projects").select("slug").eq("slug", "gamma").single().execute()
    assert one.data == {"slug": "gamma"}
    with pytest.raises(APIError) as many:
        await service.table("projects").select("slug").single().execute()
    assert many.value.code == "PGRST116"
    assert many.value.details == "The result contains 5 rows"
    none = (
        await service.table("projects").select("slug").eq("slug", "nope").maybe_single().execute()
    )
    assert none is None


async def test_embedding_related_tables(serve: ServeHandle) -> None:
    """Embedding gives children as an array and a parent (to-one) as an object."""
    service, org_id = await _projects(serve)
    await organization(service, "empty-org")
    orgs = (
        await service.table("organizations")
        .select("slug, projects(slug)")
        .order("slug")
        .order("slug", foreign_table="projects")
        .execute()
    )
    assert orgs.data[0]["slug"] == "acme"
    assert [p["slug"] for p in orgs.data[0]["projects"]] == [
        "alpha",
        "beta",
        "delta",
        "epsilon",
        "gamma",
    ]
    assert orgs.data[1] == {"slug": "empty-org", "projects": []}
    inner = await service.table("organizations").select("slug, projects!inner(slug)").execute()
    assert [o["slug"] for o in inner.data] == ["acme"]
    parent = (
        await service.table("projects")
        .select("slug, org:organizations(id, slug)")
        .eq("slug", "beta")
        .single()
        .execute()
    )
    assert parent.data == {"slug": "beta", "org": {"id": org_id, "slug": "acme"}}
    limited = (
        await service.table("organizations")
        .select("slug, projects(slug)")
        .eq("slug", "acme")
        .eq("projects.slug", "delta")
        .execute()
    )
    assert limited.data == [{"slug": "acme", "projects": [{"slug": "delta"}]}]
    counted = (
        await service.table("organizations").select("slug, projects(count)").order("slug").execute()
    )
    assert counted.data == [
        {"slug": "acme", "projects": [{"count": 5}]},
        {"slug": "empty-org", "projects": [{"count": 0}]},
    ]


async def test_json_columns_and_arrow_filters(serve: ServeHandle) -> None:
    """``metadata->>key`` selects and filters inside a jsonb column."""
    service = await service_client(serve)
    org_id = await organization(service, "json-org")
    project_id = await project(service, org_id, "api")
    for sha in ("abc", "def"):
        await (
            service.table("test_runs")
            .insert({"project_id": project_id, "metadata": {"git": {"sha": sha}}})
            .execute()
        )
    result = (
        await service.table("test_runs")
        .select("sha:metadata->git->>sha")
        .eq("metadata->git->>sha", "def")
        .execute()
    )
    assert result.data == [{"sha": "def"}]


async def test_negotiation_headers(serve: ServeHandle) -> None:
    """nulls=stripped drops null keys; another schema profile is 406 PGRST106; a range past
    the end is 416 PGRST103."""
    await _projects(serve)
    headers = {"apikey": serve.service_role_key}
    url = f"{serve.url}/rest/v1/projects"
    async with httpx.AsyncClient() as http:
        stripped = await http.get(
            url,
            params={"select": "slug,description", "slug": "eq.beta"},
            headers={**headers, "Accept": "application/vnd.pgrst.array+json;nulls=stripped"},
        )
        assert stripped.json() == [{"slug": "beta"}]
        other_schema = await http.get(url, headers={**headers, "Accept-Profile": "private"})
        assert other_schema.status_code == 406 and other_schema.json()["code"] == "PGRST106"
        public = await http.get(
            url, params={"select": "slug"}, headers={**headers, "Accept-Profile": "public"}
        )
        assert public.status_code == 200 and len(public.json()) == 5
        past = await http.get(
            url, params={"offset": "10"}, headers={**headers, "Prefer": "count=exact"}
        )
        assert past.status_code == 416 and past.json()["code"] == "PGRST103"
        assert past.headers["content-range"] == "*/5"
