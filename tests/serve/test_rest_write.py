"""``/rest/v1`` writes through supabase-py: insert, bulk insert, upsert, update, delete, Prefer."""

from __future__ import annotations

import httpx
import pytest
from postgrest.exceptions import APIError
from postgrest.types import ReturnMethod

from support_rest import organization, service_client
from support_serve import ServeHandle

# organizations is used as a plain table here: start without the default `local`
pytestmark = pytest.mark.usefixtures("no_default_org")


async def test_insert_single_and_bulk_return_the_rows(serve: ServeHandle) -> None:
    """insert() returns the new rows with their defaults; a list inserts them all."""
    service = await service_client(serve)
    one = await service.table("organizations").insert({"name": "One", "slug": "one"}).execute()
    assert one.data[0]["slug"] == "one" and one.data[0]["id"] and one.data[0]["created_at"]
    many = (
        await service.table("organizations")
        .insert([{"name": "Two", "slug": "two"}, {"name": "Three", "slug": "three"}])
        .execute()
    )
    assert sorted(r["slug"] for r in many.data) == ["three", "two"]
    total = await service.table("organizations").select("*", count="exact", head=True).execute()
    assert total.count == 3


async def test_insert_returning_minimal_and_select_after_insert(serve: ServeHandle) -> None:
    """return=minimal gives no rows; a representation applies the select list."""
    service = await service_client(serve)
    minimal = (
        await service.table("organizations")
        .insert({"name": "Quiet", "slug": "quiet"}, returning=ReturnMethod.minimal)
        .execute()
    )
    assert minimal.data == []
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{serve.url}/rest/v1/organizations",
            params={"select": "slug"},
            json={"name": "Loud", "slug": "loud"},
            headers={"apikey": serve.service_role_key, "Prefer": "return=representation"},
        )
    assert response.status_code == 201 and response.json() == [{"slug": "loud"}]


async def test_bulk_insert_with_missing_keys_uses_defaults_when_asked(serve: ServeHandle) -> None:
    """Without missing=default a key missing from a row is null; with it, the default applies."""
    service = await service_client(serve)
    org_id = await organization(service, "defaults")
    rows = [
        {"organization_id": org_id, "name": "A", "slug": "a", "description": "has one"},
        {"organization_id": org_id, "name": "B", "slug": "b"},
    ]
    created = await service.table("projects").insert(rows, default_to_null=False).execute()
    assert {r["slug"]: r["description"] for r in created.data} == {"a": "has one", "b": None}
    with pytest.raises(APIError) as nulls:
        # created_at is not null: an explicit null from a missing key violates it
        await (
            service.table("projects")
            .insert(
                [
                    {
                        "organization_id": org_id,
                        "name": "C",
                        "slug": "c",
                        "created_at": "2024-01-01T00:00:00Z",
                    },
                    {"organization_id": org_id, "name": "D", "slug": "d"},
                ]
            )
            .execute()
        )
    assert nulls.value.code == "23502"


async def test_upsert_on_conflict_merges_or_ignores(serve: ServeHandle) -> None:
    """upsert(on_conflict=slug) updates the existing row; ignore_duplicates leaves it alone."""
    service = await service_client(serve)
    first = await service.table("organizations").insert({"name": "Old", "slug": "acme"}).execute()
    merged = (
        await service.table("organizations")
        .upsert({"name": "New", "slug": "acme"}, on_conflict="slug")
        .execute()
    )
    assert merged.data[0]["id"] == first.data[0]["id"] and merged.data[0]["name"] == "New"
    ignored = (
        await service.table("organizations")
        .upsert({"name": "Ignored", "slug": "acme"}, on_conflict="slug", ignore_duplicates=True)
        .execute()
    )
    assert ignored.data == []
    by_pk = (
        await service.table("organizations")
        .upsert({"id": first.data[0]["id"], "name": "By key", "slug": "acme"})
        .execute()
    )
    assert by_pk.data[0]["name"] == "By key"
    rows = await service.table("organizations").select("name").execute()
    assert rows.data == [{"name": "By key"}]


async def test_update_and_delete_with_filters(serve: ServeHandle) -> None:
    """update() and delete() touch only the filtered rows and return them."""
    service = await service_client(serve)
    for slug in ("a", "b", "c"):
        await service.table("organizations").insert({"name": slug.upper(), "slug": slug}).execute()
    updated = (
        await service.table("organizations")
        .update({"name": "Renamed"})
        .in_("slug", ["a", "b"])
        .execute()
    )
    assert sorted(r["slug"] for r in updated.data) == ["a", "b"]
    assert {r["name"] for r in updated.data} == {"Renamed"}
    deleted = await service.table("organizations").delete().eq("slug", "a").execute()
    assert [r["slug"] for r in deleted.data] == ["a"]
    quiet = (
        await service.table("organizations")
        .delete(returning=ReturnMethod.minimal)
        .eq("slug", "b")
        .execute()
    )
    assert quiet.data == []
    left = await service.table("organizations").select("slug, name").execute()
    assert left.data == [{"slug": "c", "name": "C"}]


async def test_duplicate_key_is_409_23505(serve: ServeHandle) -> None:
    """A unique violation is 409 with Postgres's code, message and details."""
    service = await service_client(serve)
    await service.table("organizations").insert({"name": "A", "slug": "dup"}).execute()
    with pytest.raises(APIError) as dup:
        await service.table("organizations").insert({"name": "B", "slug": "dup"}).execute()
    assert dup.value.code == "23505"
    assert "organizations_slug_key" in (dup.value.message or "")
    assert "(slug)=(dup)" in (dup.value.details or "")
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{serve.url}/rest/v1/organizations",
            json={"name": "C", "slug": "dup"},
            headers={"apikey": serve.service_role_key},
        )
    assert response.status_code == 409


async def test_writing_an_unknown_column_is_pgrst204(serve: ServeHandle) -> None:
    """A body key that is not a column is 400 PGRST204, and nothing is written."""
    service = await service_client(serve)
    with pytest.raises(APIError) as unknown:
        await (
            service.table("organizations")
            .insert({"name": "A", "slug": "a", "colour": "red"})
            .execute()
        )
    assert unknown.value.code == "PGRST204"
    assert (
        unknown.value.message
        == "Could not find the 'colour' column of 'organizations' in the schema cache"
    )
    assert (await service.table("organizations").select("*").execute()).data == []


async def test_headers_only_returns_a_location(serve: ServeHandle) -> None:
    """Prefer: return=headers-only answers 201 with the new row's Location."""
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{serve.url}/rest/v1/organizations",
            json={"name": "Loc", "slug": "loc"},
            headers={"apikey": serve.service_role_key, "Prefer": "return=headers-only"},
        )
    assert response.status_code == 201 and response.content == b""
    assert response.headers["location"].startswith("/organizations?id=eq.")
