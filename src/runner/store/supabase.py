"""``SupabaseStore``: records a run through a Supabase URL and key alone.

Everything goes through the same SQL functions as the direct path
(``public.start_suite_run``, ``record_results``, ``merge_captured_data``, ...),
called over PostgREST RPC with the official client (supabase-py). With the
service_role key it records as the system; with the anon key it signs in as
``RUNNER_SUPABASE_EMAIL`` first, and row-level security applies to every call.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.errors import CapabilityError, ConfigError, DatabaseError
from runner.models import RunStatus
from runner.secrets.crypto import SecretBox
from runner.store.base import RunInfo
from runner.store.calls import batch_calls
from runner.store.capabilities import StoredCapabilities
from runner.store.heartbeat import HEARTBEAT_S, Heartbeat, rpc_heartbeat
from runner.store.heartbeat import stop as stop_heartbeat
from runner.store.queued import QueuedStore
from runner.store.records import RotationReport
from runner.store.supabase_client import describe, open_client
from runner.store.sync import StartedRun, announce, run_request
from runner.store.writer import BatchWriter, Op

if TYPE_CHECKING:
    from supabase import AsyncClient


class SupabaseStore(StoredCapabilities, QueuedStore):
    """The REST/RPC ``Store``: every capability but key rotation, which needs a database URL."""

    name = "supabase"
    user_hint = "RUNNER_SUPABASE_EMAIL and RUNNER_SUPABASE_PASSWORD"

    def __init__(
        self,
        url: str,
        key: str,
        *,
        email: str | None = None,
        password: str | None = None,
        organization: str = "local",
        project: str | None = None,
        spill_dir: Path = Path(".runner/spill"),
        max_batch: int = 500,
        cipher: SecretBox | None = None,
        heartbeat_s: float = HEARTBEAT_S,
    ) -> None:
        self.heartbeat_s = heartbeat_s
        self.heartbeat: Heartbeat | None = None
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"SUPABASE_URL must be an http(s) URL, got {url!r}")
        if not key:
            raise ConfigError("RUNNER_STORE=supabase needs SUPABASE_KEY (service_role or anon)")
        if email and not password:
            raise ConfigError("RUNNER_SUPABASE_EMAIL needs RUNNER_SUPABASE_PASSWORD")
        self.url = url.rstrip("/")
        self.key = key
        self.email = email
        self.password = password
        self.organization = organization
        self.project = project
        self.spill_dir = spill_dir
        self.max_batch = max_batch
        self.cipher = cipher
        self.run_id: str | None = None
        self.case_ids: dict[str, str] = {}
        self.quarantined: frozenset[str] = frozenset()
        """Test ids quarantined when the run started (their failures do not fail it)."""
        self.writer: BatchWriter | None = None
        self._client: AsyncClient | None = None

    async def __aenter__(self) -> SupabaseStore:
        self._client = await open_client(
            self.url, self.key, email=self.email, password=self.password
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await stop_heartbeat(self.heartbeat)
        if self.writer is not None:
            await self.writer.close()
        if self._client is not None:
            if self.email:
                # signing out is a courtesy: the run is already recorded
                with contextlib.suppress(Exception):
                    await self._client.auth.sign_out()
            self._client = None

    @property
    def client(self) -> AsyncClient:
        """The open client."""
        if self._client is None:
            raise DatabaseError("the store is not open")
        return self._client

    @property
    def user(self) -> str | None:
        """The user signed in with ``RUNNER_SUPABASE_EMAIL`` (None with the service key)."""
        return self.email

    async def _rpc(self, function: str, args: dict[str, Any]) -> Any:
        response = await self.client.rpc(function, args).execute()
        return response.data

    async def _call(
        self, function: str, args: dict[str, Any], doing: str, refused: str = ""
    ) -> Any:
        """``public.<function>`` by RPC (a null answer may come back as ``[]``)."""
        try:
            data = await self._rpc(function, args)
        except Exception as exc:
            hint = refused if getattr(exc, "code", None) == "42501" else ""
            raise DatabaseError(f"cannot {doing}: {describe(exc)}{hint}") from None
        return data

    async def rotate_secret_key(self, old: SecretBox, new: SecretBox) -> RotationReport:
        """Refused: rotation rewrites every ciphertext in one transaction."""
        raise CapabilityError(
            self.name, "rotate the secret key", "use a database URL (RUNNER_DATABASE_URL)"
        )

    async def start_run(self, info: RunInfo) -> str | None:
        """Sync the suite and create the run and its context: one RPC call."""
        request = run_request(info, organization=self.organization, project=self.project)
        try:
            data = await self._rpc("start_suite_run", {"p_request": request})
        except Exception as exc:
            raise DatabaseError(f"cannot record the run: {describe(exc)}") from None
        started = StartedRun.from_json(data)
        announce(started, info.suite)
        self.heartbeat = rpc_heartbeat(self._rpc, started.run_id, self.heartbeat_s)
        self.run_id = started.run_id
        self.case_ids = started.case_ids
        self.quarantined = started.quarantined
        self.writer = BatchWriter(
            self._flush, self.spill_dir / f"run-{started.run_id}.jsonl", max_batch=self.max_batch
        )
        self.writer.start()
        return started.run_id

    async def finish_run(self, status: RunStatus) -> None:
        """Write everything queued, then mark the run finished."""
        if self.run_id is None:
            return
        if self.writer is not None:
            await self.writer.close()
        try:
            await self._rpc("finish_run", {"p_run_id": self.run_id, "p_status": status.value})
        except Exception as exc:
            raise DatabaseError(f"cannot finish run {self.run_id}: {describe(exc)}") from None

    async def _flush(self, batch: Sequence[Op]) -> None:
        # one RPC per function call; PostgREST runs each in its own transaction
        assert self.run_id is not None
        for function, args in batch_calls(self.run_id, batch):
            await self._rpc(function, args)
