"""Setting up data for the REST and auth contract tests through the official client."""

from __future__ import annotations

import uuid
from typing import Any

from supabase import AsyncClient, acreate_client

from support_serve import ServeHandle

PASSWORD = "correct-horse-battery"


async def service_client(serve: ServeHandle) -> AsyncClient:
    """supabase-py with the service_role key (bypasses RLS, may use the admin API)."""
    return await acreate_client(serve.url, serve.service_role_key)


async def anon_client(serve: ServeHandle) -> AsyncClient:
    """supabase-py with the anon key, nobody signed in."""
    return await acreate_client(serve.url, serve.anon_key)


async def new_user(service: AsyncClient, email: str | None = None) -> tuple[str, str]:
    """(id, email) of a confirmed account created through the admin API."""
    email = email or f"user-{uuid.uuid4().hex[:8]}@example.com"
    created = await service.auth.admin.create_user(
        {"email": email, "password": PASSWORD, "email_confirm": True}
    )
    return created.user.id, email


async def signed_in(serve: ServeHandle, email: str) -> AsyncClient:
    """A fresh anon client signed in as ``email``."""
    client = await anon_client(serve)
    await client.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    return client


async def organization(
    service: AsyncClient, slug: str, members: dict[str, str] | None = None
) -> str:
    """Id of a new organisation with ``members`` ({user id: role}), made by the service role."""
    org = (
        await service.table("organizations").insert({"name": slug.title(), "slug": slug}).execute()
    )
    org_id: str = org.data[0]["id"]
    rows = [
        {"organization_id": org_id, "user_id": user_id, "role": role}
        for user_id, role in (members or {}).items()
    ]
    if rows:
        await service.table("organization_members").insert(rows).execute()
    return org_id


async def project(service: AsyncClient, org_id: str, slug: str) -> str:
    """Id of a new project of ``org_id``."""
    row = {"organization_id": org_id, "name": slug.title(), "slug": slug}
    created = await service.table("projects").insert(row).execute()
    project_id: str = created.data[0]["id"]
    return project_id


async def run(service: AsyncClient, project_id: str, **fields: Any) -> str:
    """Id of a new running test run of ``project_id``."""
    created = (
        await service.table("test_runs").insert({"project_id": project_id, **fields}).execute()
    )
    run_id: str = created.data[0]["id"]
    return run_id
