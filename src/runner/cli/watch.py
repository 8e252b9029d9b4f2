"""``python -m runner watch RUN_ID``: follow a run live over Supabase Realtime.

The watcher subscribes to the private topic ``run:<id>`` first, then reads the run
and its results so far over REST, so nothing that happens in between is missed.
Events carry a per-run ``seq``; when one is skipped (a dropped socket, a slow
subscriber) the watcher re-reads the results from the tables and goes on. It ends
when ``run_completed`` arrives (or the run was already finished).

``RunView`` is the state (pure, tested on its own); ``watch_run`` connects it to a
Supabase URL and key (a hosted project or ``python -m runner serve``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from runner.errors import ConfigError, DatabaseError
from runner.store.supabase_client import describe, open_client

if TYPE_CHECKING:
    from supabase import AsyncClient

FINAL = frozenset({"passed", "failed", "error", "cancelled", "interrupted", "timeout"})
MARK = {"passed": "PASS", "failed": "FAIL", "error": "ERR ", "skipped": "SKIP"}
RESULT_EVENTS = frozenset({"test_completed", "test_failed", "test_skipped"})


@dataclass
class RunView:
    """What is known of one run: counters, results by key, context keys, event seq."""

    run_id: str
    total: int = 0
    status: str = "running"
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    running: set[str] = field(default_factory=set)
    context_keys: set[str] = field(default_factory=set)
    last_seq: int = 0
    gaps: int = 0
    suite_name: str | None = None

    @property
    def done(self) -> bool:
        """True once the run has a final status."""
        return self.status in FINAL

    @property
    def completed(self) -> int:
        """Results received so far."""
        return len(self.results)

    def counts(self) -> dict[str, int]:
        """Results by status."""
        out: dict[str, int] = {}
        for result in self.results.values():
            out[result["status"]] = out.get(result["status"], 0) + 1
        return out

    def load_run(self, row: Mapping[str, Any]) -> None:
        """Take the run row read over REST."""
        self.total = int(row.get("total_tests") or self.total)
        self.status = str(row.get("status") or self.status)
        self.suite_name = row.get("suite_name") or self.suite_name
        seq = row.get("event_seq")
        if isinstance(seq, int) and seq > self.last_seq:
            self.last_seq = seq

    def load_results(self, rows: Sequence[Mapping[str, Any]]) -> list[str]:
        """Take results read over REST; lines for the ones not seen before."""
        lines = []
        for row in rows:
            key = str(row.get("test_key"))
            if key not in self.results:
                self.results[key] = dict(row)
                self.running.discard(key)
                lines.append(result_line(row))
        return lines

    def apply(self, event: str, payload: Mapping[str, Any]) -> tuple[list[str], bool]:
        """Apply one event: (lines to print, True when a gap means a re-read is due)."""
        seq = payload.get("seq")
        gap = False
        if isinstance(seq, int):
            if seq <= self.last_seq:
                return [], False  # already known (read over REST, or a duplicate)
            if self.last_seq and seq != self.last_seq + 1:
                gap = True
                self.gaps += 1
            self.last_seq = seq
        lines: list[str] = []
        kind = str(payload.get("type") or event)
        if kind == "test_started":
            key = payload.get("test_key")
            if isinstance(key, str) and key not in self.results:
                self.running.add(key)
        elif kind in RESULT_EVENTS:
            lines = self.load_results([payload])
        elif kind == "context_updated":
            fresh = [str(k) for k in _changed_keys(payload) if k not in self.context_keys]
            self.context_keys.update(fresh)
            if fresh:
                lines.append(f"  context  + {', '.join(sorted(fresh))}")
        elif kind == "run_started":
            self.total = int(payload.get("total_tests") or self.total)
        elif kind == "run_completed":
            self.status = str(payload.get("status") or "passed")
        return lines, gap

    def summary(self) -> str:
        """The closing line."""
        counts = self.counts()
        parts = [f"{counts.get(s, 0)} {word}" for s, word in _SUMMARY_WORDS]
        return f"run {self.run_id} {self.status}: " + ", ".join(parts)


_SUMMARY_WORDS = (
    ("passed", "passed"),
    ("failed", "failed"),
    ("error", "errors"),
    ("skipped", "skipped"),
)


def _changed_keys(payload: Mapping[str, Any]) -> list[Any]:
    keys: list[Any] = []
    for name in ("captured_keys", "variable_keys", "token_names", "keys"):
        value = payload.get(name)
        if isinstance(value, list | dict):
            keys.extend(value)
    return keys


def result_line(row: Mapping[str, Any]) -> str:
    """``  PASS  login  200  12 ms`` (plus the error category of a failure)."""
    status = str(row.get("status"))
    parts = [f"  {MARK.get(status, status[:4].upper()):4}", str(row.get("test_key"))]
    if row.get("status_code") is not None:
        parts.append(str(row["status_code"]))
    if row.get("response_time_ms") is not None:
        parts.append(f"{float(row['response_time_ms']):.0f} ms")
    if status != "passed" and row.get("error_category"):
        parts.append(f"[{row['error_category']}]")
    return "  ".join(parts)


@dataclass(frozen=True)
class Connection:
    """Where to watch from: a Supabase URL and key, and maybe a user to sign in as."""

    url: str
    key: str
    email: str | None = None
    password: str | None = None


def connection_from_settings(settings: Any) -> Connection:
    """SUPABASE_URL/SUPABASE_KEY, else what ``serve`` wrote to ``<data dir>/serve.env``."""
    url = settings.supabase_url
    key = settings.supabase_key.get_secret_value() if settings.supabase_key else None
    if not url or not key:
        written = _serve_env(Path(settings.data_dir) / "serve.env")
        url = url or written.get("SUPABASE_URL")
        key = key or written.get("SUPABASE_SERVICE_ROLE_KEY")
    if not url or not key:
        raise ConfigError(
            "watching needs SUPABASE_URL and SUPABASE_KEY "
            "(or a running `python -m runner serve`, which writes them to the data dir)"
        )
    password = settings.supabase_password
    return Connection(
        url=url,
        key=key,
        email=settings.supabase_email or None,
        password=password.get_secret_value() if password else None,
    )


def _serve_env(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    values = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not name.startswith("#"):
            values[name.strip()] = value.strip()
    return values


RUN_COLUMNS = "id,status,total_tests,suite_name,event_seq"
RESULT_COLUMNS = "test_key,status,status_code,response_time_ms,error_category"


async def watch_run(
    conn: Connection,
    run_id: str,
    *,
    emit: Callable[[str], None] = print,
    progress: Callable[[RunView], None] | None = None,
) -> RunView:
    """Follow ``run_id`` until it completes; lines go to ``emit``. Returns the final view."""
    client = await open_client(conn.url, conn.key, email=conn.email, password=conn.password)
    view = RunView(run_id)
    events: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    subscribed = asyncio.Event()
    refused: list[str] = []

    def on_broadcast(message: Any) -> None:
        payload = message.get("payload") if isinstance(message, Mapping) else None
        if isinstance(payload, Mapping):
            events.put_nowait((str(message.get("event")), dict(payload)))

    def on_state(state: Any, error: Exception | None) -> None:
        name = getattr(state, "value", str(state))
        if name == "SUBSCRIBED":
            subscribed.set()
        elif name in ("CHANNEL_ERROR", "TIMED_OUT", "CLOSED") and not subscribed.is_set():
            refused.append(f"{name}: {error}" if error else name)
            subscribed.set()

    channel = client.channel(f"run:{run_id}", cast(Any, {"config": {"private": True}}))
    channel.on_broadcast("*", on_broadcast)
    try:
        await channel.subscribe(on_state)
        await asyncio.wait_for(subscribed.wait(), 30)
        if refused:
            raise DatabaseError(
                f"cannot watch run {run_id}: the channel was refused ({refused[0]})"
            )
        found = await _read_run(client, run_id)
        if found is None:
            raise ConfigError(f"run {run_id} not found (or not visible to this key/user)")
        view.load_run(found)
        emit(f"watching run {run_id} ({view.suite_name or 'suite'}, {view.total} tests)")
        for line in view.load_results(await _read_results(client, run_id)):
            emit(line)
        if progress:
            progress(view)
        # the caller bounds the wait with asyncio.timeout if it wants to
        while not view.done:
            event, payload = await events.get()
            lines, gap = view.apply(event, payload)
            for line in lines:
                emit(line)
            if gap:
                emit("  (missed events: re-reading the run)")
                for line in view.load_results(await _read_results(client, run_id)):
                    emit(line)
                row = await _read_run(client, run_id)
                if row is not None:
                    view.load_run(row)
            if progress:
                progress(view)
    finally:
        with contextlib.suppress(Exception):
            await client.remove_all_channels()
    emit(view.summary())
    return view


async def _read_run(client: AsyncClient, run_id: str) -> dict[str, Any] | None:
    try:
        response = await (
            client.table("test_runs").select(RUN_COLUMNS).eq("id", run_id).limit(1).execute()
        )
    except Exception as exc:
        raise DatabaseError(f"cannot read run {run_id}: {describe(exc)}") from None
    rows = cast(list[dict[str, Any]], response.data or [])
    return dict(rows[0]) if rows else None


async def _read_results(client: AsyncClient, run_id: str) -> list[dict[str, Any]]:
    try:
        response = await (
            client.table("test_results")
            .select(RESULT_COLUMNS)
            .eq("run_id", run_id)
            .order("finished_at")
            .execute()
        )
    except Exception as exc:
        raise DatabaseError(f"cannot read the results of run {run_id}: {describe(exc)}") from None
    return [dict(r) for r in cast(list[dict[str, Any]], response.data or [])]
