"""The same store behaviour tests against both stores: a world of one admin user.

``StoreWorld`` runs a live ``serve`` in front of a fresh migrated database, with a
confirmed user (email and password) who is admin of organisation ``acme``. It makes
the store under test either as ``PostgresStore`` (a direct connection) or as
``SupabaseStore`` (RPC through ``serve``), acting as that user or as the system.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.db.connect import Target
from runner.db.identity import Identity
from runner.secrets.crypto import SecretBox, generate_key
from runner.settings import Settings
from runner.store.postgres import PostgresStore
from runner.store.supabase import SupabaseStore
from support_rest import PASSWORD, new_user, organization, service_client
from support_serve import ServeHandle

KINDS = ("postgres", "supabase")
ORG = "acme"


@dataclass
class StoreWorld:
    """One admin user of organisation ``acme``, and how to reach the database as them."""

    kind: str
    serve: ServeHandle
    user_id: str
    email: str
    key: str
    spill: Path

    @property
    def box(self) -> SecretBox:
        return SecretBox.from_base64(self.key)

    def user_store(self, **kw: Any) -> PostgresStore | SupabaseStore:
        """The store under test acting as the admin user."""
        common: dict[str, Any] = {"organization": ORG, "cipher": self.box, "spill_dir": self.spill}
        common.update(kw)
        if self.kind == "postgres":
            return PostgresStore(
                Target(self.serve.db_url, embedded=True),
                identity=Identity.user(self.user_id, self.email),
                **common,
            )
        return SupabaseStore(
            self.serve.url, self.serve.anon_key, email=self.email, password=PASSWORD, **common
        )

    def service_store(self, **kw: Any) -> PostgresStore | SupabaseStore:
        """The store under test acting as the system (service role)."""
        common: dict[str, Any] = {"organization": ORG, "cipher": self.box, "spill_dir": self.spill}
        common.update(kw)
        if self.kind == "postgres":
            return PostgresStore(Target(self.serve.db_url, embedded=True), **common)
        return SupabaseStore(self.serve.url, self.serve.service_role_key, **common)

    def user_settings(self, data_dir: Path) -> Settings:
        """Settings that make ``open_store`` give the store under test, as the user."""
        env: dict[str, Any] = {
            "RUNNER_ORGANIZATION": ORG,
            "RUNNER_SECRET_KEY": self.key,
            "RUNNER_DATA_DIR": str(data_dir),
        }
        if self.kind == "postgres":
            env.update(
                RUNNER_DATABASE_URL=self.serve.db_url,
                RUNNER_DATABASE_ROLE="authenticated",
                RUNNER_USER_ID=self.user_id,
                RUNNER_USER_EMAIL=self.email,
            )
        else:
            env.update(
                RUNNER_STORE="supabase",
                SUPABASE_URL=self.serve.url,
                SUPABASE_KEY=self.serve.anon_key,
                RUNNER_SUPABASE_EMAIL=self.email,
                RUNNER_SUPABASE_PASSWORD=PASSWORD,
            )
        return Settings(_env_file=None, **env)  # type: ignore[call-arg]


async def make_world(kind: str, serve: ServeHandle, spill: Path) -> StoreWorld:
    """A confirmed user (through the admin API) who is admin of organisation ``acme``."""
    service = await service_client(serve)
    user_id, email = await new_user(service, f"admin-{uuid.uuid4().hex[:8]}@example.com")
    await organization(service, ORG, {user_id: "admin"})
    return StoreWorld(kind, serve, user_id, email, generate_key(), spill)
