"""Functional checks of the performance work (issue #7); timings live in bench/, not here.

* the batch writer gathers operations between writes, yet closing never waits
  for that interval and loses nothing when the closing caller is cancelled;
* JSON suites compose their line map only on demand, and every error still
  names its line;
* the sharded transport used above 16 tests in flight runs a whole dependent
  suite against a real local server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import httpx
import pytest

from runner.api import make_client, run_suite
from runner.errors import PlanError, SuiteError
from runner.execute.http.aiohttp_transport import AiohttpTransport
from runner.execute.http.send import SchemeTransport, ShardedTransport, make_transport
from runner.models import Status, Suite
from runner.plan.graph import build_plan
from runner.store.writer import BatchWriter, Op
from runner.suite.load import load_suite_text, loaded_from_suite

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
from convert_peer_suite import build_suite  # noqa: E402
from latency_target import Target  # noqa: E402

# ------------------------------------------------------------------ batch writer


async def test_operations_put_during_the_interval_share_one_batch(tmp_path: Path) -> None:
    """After a write, what arrives within ``min_interval`` goes out together."""
    batches: list[list[Op]] = []

    async def flush(batch: Sequence[Op]) -> None:
        batches.append(list(batch))

    writer = BatchWriter(flush, tmp_path / "spill.jsonl", min_interval=60)
    writer.start()
    writer.put("result", {"n": 0})
    for _ in range(3):  # let the first write happen
        await asyncio.sleep(0)
    for i in range(1, 5):
        writer.put("result", {"n": i})
    # closing must not sit out the 60 s interval (the guard only stops a hang)
    await asyncio.wait_for(writer.close(), 10)
    assert [[op[1]["n"] for op in b] for b in batches] == [[0], [1, 2, 3, 4]]
    assert writer.written == 5


async def test_a_full_batch_does_not_wait_for_the_interval(tmp_path: Path) -> None:
    written: list[Op] = []
    wrote = asyncio.Event()

    async def flush(batch: Sequence[Op]) -> None:
        written.extend(batch)
        if len(written) == 4:
            wrote.set()

    writer = BatchWriter(flush, tmp_path / "spill.jsonl", max_batch=3, min_interval=60)
    writer.start()
    writer.put("result", {"n": 0})
    for _ in range(3):
        await asyncio.sleep(0)
    for i in range(1, 4):
        writer.put("result", {"n": i})
    await asyncio.wait_for(wrote.wait(), 10)  # written before close, not after 60 s
    await writer.close()
    assert [op[1]["n"] for op in written] == [0, 1, 2, 3]


async def test_operations_put_during_a_write_wait_for_the_next_round(tmp_path: Path) -> None:
    """What arrives while a batch is written is not chased: it goes out with the next one."""
    batches: list[list[int]] = []
    writing, release = asyncio.Event(), asyncio.Event()

    async def flush(batch: Sequence[Op]) -> None:
        batches.append([op[1]["n"] for op in batch])
        if len(batches) == 1:
            writing.set()
            await release.wait()  # a slow database

    writer = BatchWriter(flush, tmp_path / "spill.jsonl", min_interval=60)
    writer.start()
    writer.put("result", {"n": 0})
    await asyncio.wait_for(writing.wait(), 10)
    for i in range(1, 4):
        writer.put("result", {"n": i})
    release.set()
    for _ in range(20):  # ample turns for a chasing writer to have written 1..3 already
        await asyncio.sleep(0)
    assert batches == [[0]]
    await asyncio.wait_for(writer.close(), 10)
    assert batches == [[0], [1, 2, 3]]


async def test_interrupted_close_during_the_interval_loses_nothing(tmp_path: Path) -> None:
    """Ctrl-C while the writer waits between batches: every queued operation is written."""
    written: list[Op] = []

    async def flush(batch: Sequence[Op]) -> None:
        await asyncio.sleep(0)
        written.extend(batch)

    writer = BatchWriter(flush, tmp_path / "spill.jsonl", min_interval=60)
    writer.start()
    writer.put("result", {"n": 0})
    for _ in range(5):
        await asyncio.sleep(0)
    writer.put("capture", ["login", {"token": "x"}])
    writer.put("result", {"n": 1})
    closer = asyncio.create_task(writer.close())
    await asyncio.sleep(0)
    closer.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await closer
    assert writer._task is not None
    await asyncio.wait_for(writer._task, 10)
    assert [kind for kind, _ in written] == ["result", "capture", "result"]
    assert writer.spilled == 0


# ------------------------------------------------------------------ lazy lines


def _json_suite(tests: list[dict[str, object]]) -> str:
    return json.dumps({"name": "s", "base_url": "http://127.0.0.1:1", "tests": tests}, indent=1)


def test_json_validation_error_names_its_line() -> None:
    text = _json_suite([{"id": "a", "request": {"url": "/"}, "checks": {"status": "x"}}])
    with pytest.raises(SuiteError) as info:
        load_suite_text(text, file="s.json")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if '"status"' in t)
    assert info.value.line == line


def test_json_plan_error_after_loading_names_its_line() -> None:
    """The line map is composed only when the planner needs it, and is right."""
    text = _json_suite(
        [
            {"id": "a", "request": {"url": "/"}},
            {"id": "b", "request": {"url": "/{{ captured_data.nope.id }}"}},
        ]
    )
    loaded = load_suite_text(text, file="s.json")
    with pytest.raises(PlanError) as info:
        build_plan(loaded)
    assert info.value.line is not None
    assert "nope" in text.splitlines()[info.value.line - 1]


def test_json_duplicate_key_and_syntax_errors_keep_their_lines() -> None:
    dup = '{\n "name": "s",\n "name": "t",\n "tests": []\n}\n'
    with pytest.raises(SuiteError) as info:
        load_suite_text(dup, file="s.json")
    assert info.value.line == 3
    assert "duplicate key" in str(info.value)
    broken = '{\n "name": "s",\n "tests": [\n}\n'
    with pytest.raises(SuiteError) as info:
        load_suite_text(broken, file="s.json")
    assert info.value.line == 4
    assert "invalid JSON" in str(info.value)


# ------------------------------------------------------- the bench suite and transport


def test_converted_peer_suite_has_the_peer_graph() -> None:
    plan = build_plan(loaded_from_suite(Suite.model_validate(build_suite(3, "http://x.test"))))
    assert len(plan.order) == 13
    assert plan.order[0] == "login"
    assert set(plan.dependencies("chain_0002_get")) == {"chain_0002_create", "login"}
    assert set(plan.dependencies("chain_0002_delete")) >= {"chain_0002_update"}


@contextlib.asynccontextmanager
async def local_target(delay: float) -> AsyncIterator[str]:
    target = Target(delay)
    server = await asyncio.start_server(target.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


async def test_latency_target_answers_like_the_nginx_target() -> None:
    async with local_target(0) as base, httpx.AsyncClient(base_url=base) as client:
        login = await client.post("/auth/login", json={})
        assert login.json() == {"access_token": "tok-123", "user_id": "user-1"}
        assert (await client.post("/items")).status_code == 401
        auth = {"Authorization": "Bearer tok-123"}
        item = (await client.post("/items", headers=auth)).json()["id"]
        assert (await client.get(f"/items/{item}", headers=auth)).json()["id"] == item
        assert (await client.delete(f"/items/{item}", headers=auth)).status_code == 204
        status = (await client.get("/_bench/status")).text
        # the peer driver reads the request counter exactly like this
        assert int(status.splitlines()[2].split()[2]) == 6


def test_small_concurrency_keeps_one_pool() -> None:
    """With httpcore, up to 16 in flight one pool serves plain HTTP; above, the sharded one."""
    small, big = make_transport(8, "httpcore"), make_transport(64, "httpcore")
    assert isinstance(small, SchemeTransport) and isinstance(big, SchemeTransport)
    assert isinstance(small.plain, httpx.AsyncHTTPTransport)
    assert isinstance(big.plain, ShardedTransport)


def test_aiohttp_is_the_default_transport_and_unknown_kinds_are_refused() -> None:
    """make_transport defaults to aiohttp under httpx; a misspelt kind is an error."""
    default = make_transport(64)
    assert isinstance(default, SchemeTransport)
    assert isinstance(default.plain, AiohttpTransport)
    with pytest.raises(ValueError, match="unknown HTTP client 'curl'"):
        make_transport(8, "curl")  # type: ignore[arg-type]


async def test_https_gets_a_verifying_pool_made_on_first_use() -> None:
    """http:// never builds the TLS pool; the first https:// builds it once, verifying."""
    contexts: list[ssl.SSLContext] = []

    def build(tls: ssl.SSLContext) -> httpx.AsyncBaseTransport:
        contexts.append(tls)
        tag = len(contexts)
        return httpx.MockTransport(lambda request: httpx.Response(200, text=f"pool {tag}"))

    transport = SchemeTransport(build)
    async with httpx.AsyncClient(transport=transport) as client:
        assert (await client.get("http://a.test/x")).text == "pool 1"
        assert transport.secure is None and len(contexts) == 1
        assert (await client.get("https://a.test/x")).text == "pool 2"
        assert (await client.get("https://b.test/y")).text == "pool 2"
        assert (await client.get("http://b.test/y")).text == "pool 1"
    assert len(contexts) == 2
    plain, secure = contexts
    # the plain pool's context trusts nothing, so TLS through it could only fail
    assert plain.verify_mode == ssl.CERT_REQUIRED and plain.check_hostname
    assert plain.cert_store_stats()["x509_ca"] == 0
    # the https pool's context is httpx's own default: verifying, CA bundle loaded
    assert secure.verify_mode == ssl.CERT_REQUIRED and secure.check_hostname
    assert secure.cert_store_stats()["x509_ca"] > 0


@pytest.mark.parametrize("kind", ["httpcore", "aiohttp"])
async def test_suite_runs_through_the_sharded_pool(kind: str) -> None:
    """40 chains at once (sharded httpcore pools, or aiohttp) against a real server: all pass."""
    async with local_target(0.01) as base, make_client(48, kind) as client:
        loaded = loaded_from_suite(Suite.model_validate(build_suite(40, base)))
        result = await run_suite(loaded, client=client, concurrency=48, seed=1)
    assert len(result.results) == 161
    assert all(r.status is Status.PASSED for r in result.results), [
        r.message for r in result.results if r.message
    ][:3]
