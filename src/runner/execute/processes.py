"""Processes a suite needs running (typically the API under test), started before it.

``run_services`` starts each service, waits until its health URL answers below 500,
and stops everything it started when the block ends, however it ends. A service
whose URL already answers is someone else's (a developer's server, a CI sidecar):
it is reused and left alone.

Each service's output goes to a temporary log file rather than a pipe: a pipe
nobody reads fills up and blocks the service, and a file can still be read after
the process died, which is when its last lines matter. Logs are removed when the
block ends, except those of a service that failed, whose path the error names.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from runner.errors import ServiceError
from runner.models import Service

__all__ = ["RunningService", "build_command", "run_services"]

log = logging.getLogger("runner.execute.processes")

PYTHON_PLACEHOLDER = "{python}"
STOP_GRACE_S = 5.0
"""How long a service has to exit after SIGTERM before it is killed."""
POLL_FIRST_DELAY_S = 0.05
POLL_MAX_DELAY_S = 0.5
PROBE_TIMEOUT_S = 2.0
OUTPUT_TAIL_LINES = 5


@dataclass
class RunningService:
    """A service that answers: started by us (``process`` set) or reused."""

    name: str
    url: str | None
    process: asyncio.subprocess.Process | None
    log_path: Path | None

    @property
    def reused(self) -> bool:
        """True when the service was already running and we did not start it."""
        return self.process is None

    @property
    def pid(self) -> int | None:
        """Process id of a service we started."""
        return self.process.pid if self.process else None


def build_command(command: str | Sequence[str]) -> list[str]:
    """The argv of a service command, with ``{python}`` made this interpreter.

    Using ``sys.executable`` lets a demo service run with the same interpreter and
    virtualenv as the runner, whatever ``python`` means on PATH.
    """
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    if not argv:
        raise ServiceError("a service command is empty")
    return [arg.replace(PYTHON_PLACEHOLDER, sys.executable) for arg in argv]


@asynccontextmanager
async def run_services(
    services: Sequence[Service],
    *,
    base_dir: Path,
    environ: Mapping[str, str] | None = None,
    log_dir: Path | None = None,
) -> AsyncIterator[list[RunningService]]:
    """Start ``services`` in order, yield them once healthy, stop them in reverse order.

    ``base_dir`` is the suite's directory (a service's ``cwd`` is relative to it);
    ``environ`` is added to this process's environment, and each service's own
    ``env`` on top. Output logs go to ``log_dir`` (default: the system's temporary
    directory). Raises ``ServiceError`` when one cannot start or become healthy.
    """
    running: list[RunningService] = []
    kept_log: Path | None = None
    try:
        # No proxies from the environment: these are local processes, and a corporate
        # HTTP_PROXY would otherwise receive our probes of 127.0.0.1.
        async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S, trust_env=False) as client:
            for service in services:
                if service.url and await _probe(client, service.url) is None:
                    log.info(
                        "service %s already answers at %s; reusing it", service.name, service.url
                    )
                    running.append(RunningService(service.name, service.url, None, None))
                    continue
                started = await _start(service, base_dir=base_dir, environ=environ, log_dir=log_dir)
                running.append(started)
                try:
                    await _wait_healthy(client, service, started)
                except ServiceError:
                    kept_log = started.log_path  # the error names it; the user will look
                    raise
        yield running
    finally:
        try:
            for started in reversed(running):
                await _stop(started)
                if started.log_path != kept_log:
                    _remove(started.log_path)
        finally:
            # Cancelled while stopping: kill whatever is left rather than leave it behind.
            for started in running:
                if started.process is not None and started.process.returncode is None:
                    _signal_group(started.process, signal.SIGKILL)


async def _start(
    service: Service, *, base_dir: Path, environ: Mapping[str, str] | None, log_dir: Path | None
) -> RunningService:
    argv = build_command(service.command)
    cwd = (base_dir / service.cwd) if service.cwd else base_dir
    env = {**os.environ, **(environ or {}), **service.env}
    fd, name = tempfile.mkstemp(
        prefix=f"runner-service-{_slug(service.name)}-", suffix=".log", dir=log_dir
    )
    log_path = Path(name)
    try:
        with os.fdopen(fd, "wb") as output:
            # A new session makes the service a process group of its own, so stopping
            # it also stops what it spawned (a reloader, a worker), and a Ctrl-C meant
            # for the runner reaches the service only through our orderly stop.
            process = await asyncio.create_subprocess_exec(
                *argv,
                cwd=cwd,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
    except OSError as exc:
        _remove(log_path)
        raise ServiceError(
            f"service {service.name!r} could not start {shlex.join(argv)!r} in {cwd}: {exc}"
        ) from exc
    log.info("started service %s (pid %d): %s", service.name, process.pid, shlex.join(argv))
    return RunningService(service.name, service.url, process, log_path)


async def _probe(client: httpx.AsyncClient, url: str) -> str | None:
    """None when ``url`` answers below 500, else why not."""
    try:
        response = await client.get(url)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if response.status_code >= 500:
        return f"HTTP {response.status_code}"
    return None


async def _wait_healthy(
    client: httpx.AsyncClient, service: Service, started: RunningService
) -> None:
    process = started.process
    assert process is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + service.timeout
    delay = POLL_FIRST_DELAY_S
    last_error = "not polled yet"
    while True:
        if process.returncode is not None:
            raise _failure(service, started, f"exited with code {process.returncode}")
        if service.url is None:
            return  # nothing to poll: started is all we can know
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise _failure(
                service, started, f"not healthy within {service.timeout:g}s: {last_error}"
            )
        error = await _probe_within(client, service.url, remaining)
        if error is None:
            log.info("service %s is healthy at %s", service.name, service.url)
            return
        last_error = error
        # Waiting on the process instead of sleeping notices an early exit at once.
        pause = min(delay, max(deadline - loop.time(), 0))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), timeout=pause)
        delay = min(delay * 2, POLL_MAX_DELAY_S)


async def _probe_within(client: httpx.AsyncClient, url: str, remaining: float) -> str | None:
    try:
        async with asyncio.timeout(min(PROBE_TIMEOUT_S, remaining)):
            return await _probe(client, url)
    except TimeoutError:
        return "no answer (timed out)"


def _failure(service: Service, started: RunningService, reason: str) -> ServiceError:
    url = service.url or "(no url)"
    tail = _tail(started.log_path)
    output = f"; last output: {tail}" if tail else "; no output"
    where = f" (log {started.log_path})" if started.log_path else ""
    return ServiceError(
        f"service {service.name!r} at {url} failed to start (timeout {service.timeout:g}s): "
        f"{reason}{output}{where}"
    )


def _tail(path: Path | None) -> str:
    """The last lines of a log as one line, so the error stays one line."""
    if path is None:
        return ""
    try:
        text = path.read_bytes()[-8192:].decode("utf-8", errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-OUTPUT_TAIL_LINES:])


async def _stop(started: RunningService) -> None:
    process = started.process
    if process is None or process.returncode is not None:
        if process is not None:
            await process.wait()
        return
    _signal_group(process, signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), timeout=STOP_GRACE_S)
    except TimeoutError:
        log.warning("service %s ignored SIGTERM for %gs; killing it", started.name, STOP_GRACE_S)
        _signal_group(process, signal.SIGKILL)
        await process.wait()
    log.info("stopped service %s (exit code %s)", started.name, process.returncode)


def _signal_group(process: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass  # already gone
    except PermissionError:
        # The group id may have been reused by something not ours; signal only our child.
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)


def _remove(path: Path | None) -> None:
    # A local unlink is quick; a sync helper keeps that explicit for the async callers.
    if path is not None:
        path.unlink(missing_ok=True)


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:40] or "service"
