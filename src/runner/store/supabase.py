"""``SupabaseStore``: records a run through a Supabase URL and key alone.

Everything goes through the same SQL functions as the direct path
(``public.start_suite_run``, ``record_results``, ``merge_captured_data``, ...),
called over PostgREST RPC with the official client (supabase-py). With the
service_role key it records as the system; with the anon key it signs in as
``RUNNER_SUPABASE_EMAIL`` first, and row-level security applies to every call.

Outages are ridden out as on the direct path: a batch whose RPC cannot reach
Supabase (connect errors, timeouts, PostgREST without its database) is retried by
the writer for up to ``RUNNER_DB_OUTAGE_S``, then spilled and replayed later.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from runner.errors import CapabilityError, ConfigError, DatabaseError
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
from runner.store.writer import OUTAGE_S, TRANSIENT_SQLSTATE_CLASSES, BatchWriter, Op

if TYPE_CHECKING:
    from supabase import AsyncClient

OUTAGE_CODES = frozenset({"PGRST000", "PGRST001", "PGRST002", "502", "503", "504"})
"""PostgREST cannot reach its database (or a gateway in front of it gives up)."""
SQLSTATE = re.compile(r"^[0-9A-Z]{5}$")


def is_outage(exc: BaseException) -> bool:
    """Whether an RPC failed because Supabase (or its database) could not be reached."""
    if isinstance(exc, httpx.TransportError | OSError | TimeoutError):
        return True  # connect errors, timeouts, connections cut mid-answer
    code = str(getattr(exc, "code", None))
    if SQLSTATE.match(code):  # the database's own error, passed on by PostgREST
        return code[:2] in TRANSIENT_SQLSTATE_CLASSES
    return code in OUTAGE_CODES


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
        outage_s: float = OUTAGE_S,
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
        self.outage_s = outage_s
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
        await self._close_writer()
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
        self._start_writer(started.run_id)
        return started.run_id

    def _is_outage(self, exc: BaseException) -> bool:
        return is_outage(exc)

    def _describe(self, exc: BaseException) -> str:
        return describe(exc)

    async def _write_batch(self, run_id: str, batch: Sequence[Op]) -> None:
        # one RPC per function call; PostgREST runs each in its own transaction, and
        # each is idempotent, so a batch retried after a lost answer writes nothing twice
        for function, args in batch_calls(run_id, batch):
            await self._rpc(function, args)
