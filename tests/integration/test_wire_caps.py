"""The body cap end to end: an endless body cannot take the runner's memory, and the
``response_too_large`` category is recorded by the real database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psycopg
import pytest

from runner.models import Suite
from support import record_example_run

# runs the CLI as ``python -m runner`` does, then writes its own peak RSS (KiB) to a file
PEAK_RSS = """
import atexit, resource, runpy, sys
out = sys.argv.pop(1)
def peak():
    with open(out, "w") as f:
        f.write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
atexit.register(peak)
sys.argv[0] = "runner"
runpy.run_module("runner", run_name="__main__", alter_sys=True)
"""


@contextlib.asynccontextmanager
async def endless_server(sent: list[int]) -> AsyncIterator[str]:
    """Answers 200 with a chunked body of up to 512 MiB, as fast as the client reads it."""
    chunk = b"z" * 65536
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in range(8192):  # bounded: 512 MiB, far above the cap and the RSS limit
                writer.write(frame)
                await writer.drain()
                sent[0] += len(chunk)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass  # the runner hung up at its cap
        finally:
            writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}"
    finally:
        srv.close()
        await srv.wait_closed()


@pytest.mark.parametrize("kind", ["aiohttp", "httpcore"])
async def test_an_endless_body_is_cut_and_memory_stays_bounded(kind: str, tmp_path: Path) -> None:
    """run-suite --no-store against an endless chunked body: response_too_large, RSS < 300 MB."""
    sent = [0]
    async with endless_server(sent) as base:
        suite = tmp_path / "endless.yaml"
        suite.write_text(
            f"name: endless\nbase_url: {base}\ntests:\n"
            "  - id: endless\n    request: {url: /stream}\n    checks: {status: 200}\n"
        )
        report, peak = tmp_path / "run.json", tmp_path / "peak"
        env = {**os.environ, "RUNNER_DATA_DIR": str(tmp_path), "RUNNER_HTTP_CLIENT": kind}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            PEAK_RSS,
            str(peak),
            "run-suite",
            str(suite),
            "--no-store",
            "--json",
            str(report),
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 1, (out + err).decode()
    (result,) = json.loads(report.read_text())["results"]
    assert (result["status"], result["error_category"]) == ("error", "response_too_large")
    assert "more than 10485760 bytes" in result["message"]
    peak_mb = int(peak.read_text()) / 1024
    assert peak_mb < 300, f"peak RSS {peak_mb:.0f} MB"
    assert sent[0] < 256 * 1024 * 1024  # reading stopped long before the server's end


@pytest.mark.db
async def test_response_too_large_is_recorded(migrated_db: str, tmp_path: Path) -> None:
    """The new category passes the database's checks on results, attempts and failures."""
    suite = Suite.model_validate(
        {
            "name": "caps",
            "tests": [
                {
                    "id": "big",
                    "request": {"url": "/big"},
                    "max_response_bytes": 10,
                    "checks": {"status": 200},
                }
            ],
        }
    )
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"x" * 11))
    result, _ = await record_example_run(migrated_db, tmp_path, transport, suite=suite)
    assert result.results[0].error_category == "response_too_large"
    with psycopg.connect(migrated_db) as conn:
        results = conn.execute("select status, error_category from test_results").fetchall()
        details = conn.execute(
            "select error_category, status_code from test_result_details where kind = 'attempt'"
        ).fetchall()
        failures = conn.execute("select error_category from failure_analysis").fetchall()
    assert results == [("error", "response_too_large")]
    assert details == [("response_too_large", 200)]
    assert failures == [("response_too_large",)]
