"""Services that misbehave: empty commands, 5xx and silent health URLs, ignored SIGTERM."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from runner.errors import ServiceError
from runner.execute import processes
from runner.execute.processes import build_command, run_services
from runner.models import Service
from support import free_port

# A tiny HTTP server answering every GET with STATUS, started after SETUP runs.
SERVER = """
import http.server, os, signal, sys
{setup}
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response({status}); self.end_headers()
    def log_message(self, *a):
        pass
open(sys.argv[2], "w").write(str(os.getpid()))
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def server(
    name: str, tmp_path: Path, *, status: int, setup: str = "", timeout: float = 20
) -> Service:
    port = free_port()
    script = SERVER.format(status=status, setup=setup)
    return Service(
        name=name,
        command=["{python}", "-c", script, str(port), str(tmp_path / f"{name}.pid")],
        url=f"http://127.0.0.1:{port}/health",
        timeout=timeout,
    )


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize("command", ["", "   ", []])
def test_an_empty_command_is_a_service_error(command: str | list[str]) -> None:
    """A command with nothing to run is refused before anything starts."""
    with pytest.raises(ServiceError, match="a service command is empty"):
        build_command(command)


async def test_a_url_answering_5xx_is_never_healthy(tmp_path: Path) -> None:
    """A health URL that answers 500 keeps the service unhealthy until the timeout says so."""
    service = server("broken", tmp_path, status=500, timeout=4)
    with pytest.raises(ServiceError) as caught:
        async with run_services([service], base_dir=tmp_path, log_dir=tmp_path):
            pytest.fail("the block must not run")
    assert "not healthy within 4s: HTTP 500" in str(caught.value)
    assert gone(int((tmp_path / "broken.pid").read_text()))


async def test_a_url_that_accepts_but_never_answers_times_out(tmp_path: Path) -> None:
    """A health URL that takes the connection and says nothing is reported as timed out."""
    port = free_port()
    script = (
        "import socket, time\n"
        f"s = socket.socket(); s.bind(('127.0.0.1', {port})); s.listen(16)\n"
        "time.sleep(60)\n"
    )
    service = Service(
        name="mute",
        command=["{python}", "-S", "-c", script],
        url=f"http://127.0.0.1:{port}/health",
        timeout=3.0,
    )
    with pytest.raises(ServiceError, match=r"not healthy within 3s: no answer \(timed out\)"):
        async with run_services([service], base_dir=tmp_path, log_dir=tmp_path):
            pytest.fail("the block must not run")


async def test_a_service_ignoring_sigterm_is_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A healthy service that ignores SIGTERM is killed after the grace period, with a warning."""
    monkeypatch.setattr(processes, "STOP_GRACE_S", 0.3)
    service = server(
        "stubborn",
        tmp_path,
        status=200,
        setup="signal.signal(signal.SIGTERM, signal.SIG_IGN)",
    )
    caplog.set_level(logging.WARNING, logger="runner.execute.processes")
    async with run_services([service], base_dir=tmp_path, log_dir=tmp_path) as running:
        pid = running[0].pid
    assert pid is not None and gone(pid)
    assert running[0].process is not None and running[0].process.returncode == -9
    assert any("ignored SIGTERM" in r.getMessage() for r in caplog.records)
