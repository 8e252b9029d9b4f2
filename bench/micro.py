"""Micro-benchmarks: load and plan, per-test overhead, database write throughput, start-up.

    .venv/bin/python bench/micro.py [--json OUT.json] [--reps 3] [--only load,pipeline,db,startup]
    .venv/bin/python bench/micro.py --only redact      # not in the default set

* ``load``: a 100,001-test suite (the peer suite at N = 25,000, as JSON, the
  format ``convert_peer_suite.py`` writes) read with ``load_suite`` and planned
  with ``build_plan`` (wall and CPU seconds), and the same the way ``run-suite``
  does it (the collector paused while loading, the suite then frozen); also the
  same suite at 10,001 tests as YAML.
* ``pipeline``: the N = 2,500 peer suite (10,001 tests) run in process through
  ``run_suite`` with an ``httpx.MockTransport`` answering like the target, at
  concurrency 1 and without a store; minus the same requests sent through the
  same transport by a bare loop. The difference per test is what render +
  capture + check + scheduling + result building cost.
* ``db``: a ``PostgresStore`` on the bench database (``RUNNER_DATA_DIR`` /
  ``RUNNER_EMBEDDED_PORT``; default /tmp/runner-bench/data, port 54411, migrated
  on demand): 5,001 results and 1,250 context merges queued as the engine queues
  them, timed from the first one to ``finish_run`` returning (all written).
* ``startup``: ``python -m runner run-suite --help`` wall time.
* ``redact``: a ``Redactor`` holding 100 secrets (tokens, passwords with spaces,
  quotes, slashes, pluses and non-ASCII) redacts a 1 MB JSON body that carries
  some of them in several encodings, and the same body without any; the cost of
  registering a secret (``add``) and of the first scan after it (the matcher is
  rebuilt lazily); a 200-character message (the per-test hot path) with 1 and
  with 100 secrets; and, for the choice of matcher, a regex alternation of the
  same forms sorted longest first, and ``pyahocorasick`` when it is installed,
  on the same texts. These figures are CPU time, the others wall time.

Each figure is the median of ``--reps`` runs. Prints one line per figure.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from convert_peer_suite import build_suite  # noqa: E402
from latency_target import Target  # noqa: E402

BASE = "http://127.0.0.1:8089"


def median_of(reps: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(reps))


def bench_load(reps: int, tmp: Path) -> dict[str, float]:
    from runner.suite.load import load_suite
    from runner.plan.graph import build_plan

    big = tmp / "suite-100k.json"
    big.write_text(json.dumps(build_suite(25_000, BASE), indent=1))
    small_yaml = tmp / "suite-10k.yaml"
    small_yaml.write_text(yaml.safe_dump(build_suite(2_500, BASE), sort_keys=False))
    loads: list[float] = []
    plans: list[float] = []
    cpus: list[float] = []
    for _ in range(reps):
        gc.collect()
        c0 = time.process_time()
        t0 = time.perf_counter()
        loaded = load_suite(big)
        t1 = time.perf_counter()
        plan = build_plan(loaded)
        t2 = time.perf_counter()
        cpus.append(time.process_time() - c0)
        assert len(plan.order) == 100_001
        loads.append(t1 - t0)
        plans.append(t2 - t1)
        del loaded, plan

    def cli_way() -> float:
        # what `run-suite` does (commands/run_suite.py): no collection while loading,
        # the loaded suite frozen out of later collections, then the plan
        gc.collect()
        t0 = time.perf_counter()
        gc.disable()
        try:
            loaded = load_suite(big)
            gc.freeze()
        finally:
            gc.enable()
        plan = build_plan(loaded)
        elapsed = time.perf_counter() - t0
        assert len(plan.order) == 100_001
        gc.unfreeze()
        return elapsed

    def yaml_load() -> float:
        t0 = time.perf_counter()
        build_plan(load_suite(small_yaml))
        return time.perf_counter() - t0

    load_s, plan_s = statistics.median(loads), statistics.median(plans)
    return {
        "load_s": load_s,
        "plan_s": plan_s,
        "load_plan_s": statistics.median(a + b for a, b in zip(loads, plans, strict=True)),
        "load_plan_cpu_s": statistics.median(cpus),
        "load_plan_cli_s": median_of(reps, cli_way),
        "yaml_10k_load_plan_s": median_of(reps, yaml_load),
    }


def mock_transport() -> httpx.MockTransport:
    target = Target(0)

    def handle(request: httpx.Request) -> httpx.Response:
        code, body = target.answer(
            request.method, request.url.path, request.headers.get("authorization", "")
        )
        headers = {"content-type": "application/json"} if body else {}
        return httpx.Response(code, content=body.encode(), headers=headers)

    return httpx.MockTransport(handle)


async def bare_loop(n: int) -> float:
    """The same 1 + 4N requests and checks, by hand, through the mock transport."""
    async with httpx.AsyncClient(transport=mock_transport(), base_url=BASE) as client:
        t0 = time.perf_counter()
        r = await client.post("/auth/login", json={"username": "bench", "password": "bench"})
        token = r.json()["access_token"]
        hdr = {"Authorization": f"Bearer {token}"}
        for _ in range(n):
            r = await client.post("/items", json={"name": "x"}, headers=hdr)
            item = r.json()["id"]
            r = await client.get(f"/items/{item}", headers=hdr)
            assert r.json()["id"] == item
            r = await client.put(f"/items/{item}", json={"name": "y"}, headers=hdr)
            assert r.json()["updated"] is True
            r = await client.delete(f"/items/{item}", headers=hdr)
            assert r.status_code == 204
        return time.perf_counter() - t0


async def runner_loop(loaded: Any) -> float:
    from runner.api import run_suite

    async with httpx.AsyncClient(transport=mock_transport()) as client:
        t0 = time.perf_counter()
        result = await run_suite(loaded, client=client, concurrency=1, seed=1)
        elapsed = time.perf_counter() - t0
    assert result.counts["passed"] == len(result.results), result.counts
    return elapsed


def bench_pipeline(reps: int) -> dict[str, float]:
    from runner.suite.load import loaded_from_suite
    from runner.models import Suite

    n = 2_500
    loaded = loaded_from_suite(Suite.model_validate(build_suite(n, BASE)))
    tests = 1 + 4 * n
    bare = median_of(reps, lambda: asyncio.run(bare_loop(n)))
    ours = median_of(reps, lambda: asyncio.run(runner_loop(loaded)))
    return {
        "pipeline_us_per_test": ours / tests * 1e6,
        "bare_mock_us_per_test": bare / tests * 1e6,
        "overhead_us_per_test": (ours - bare) / tests * 1e6,
    }


async def db_once(results: list[Any], loaded: Any) -> float:
    from runner.db.connect import resolve_target
    from runner.db.migrate import migrate
    from runner.models import RunStatus
    from runner.plan.graph import build_plan
    from runner.settings import Settings
    from runner.store.base import RunInfo
    from runner.store.postgres import PostgresStore

    target = resolve_target(Settings())
    await migrate(target)
    plan = build_plan(loaded)
    info = RunInfo(suite=plan.suite, environment=None, order=tuple(plan.order), trigger="api")
    with tempfile.TemporaryDirectory() as spill:
        async with PostgresStore(target, spill_dir=Path(spill)) as store:
            await store.start_run(info)
            t0 = time.perf_counter()
            for r in results:
                await store.record_result(r)
                if r.captured:
                    await store.context_changed(r.test_id, r.captured, {}, {}, frozenset())
            await store.finish_run(RunStatus.PASSED)
            elapsed = time.perf_counter() - t0
            assert store.writer is not None and store.writer.spilled == 0
    return elapsed


def bench_db(reps: int) -> dict[str, float]:
    from runner.suite.load import loaded_from_suite
    from runner.models import Suite

    os.environ.setdefault("RUNNER_DATA_DIR", "/tmp/runner-bench/data")  # noqa: S108
    os.environ.setdefault("RUNNER_EMBEDDED_PORT", "54411")
    # untimed: migrate the scratch database, or start it afresh if a migration it
    # applied was edited since (work in progress elsewhere in the tree)
    db = [sys.executable, "-m", "runner", "db"]
    if subprocess.run([*db, "migrate"], capture_output=True, check=False).returncode != 0:
        subprocess.run([*db, "reset"], capture_output=True, check=True)
    loaded = loaded_from_suite(Suite.model_validate(build_suite(1_250, BASE)))

    async def results() -> list[Any]:
        from runner.api import run_suite

        async with httpx.AsyncClient(transport=mock_transport()) as client:
            run = await run_suite(loaded, client=client, concurrency=1, seed=1)
        return list(run.results)

    rows = asyncio.run(results())
    merges = sum(1 for r in rows if r.captured)
    elapsed = median_of(reps, lambda: asyncio.run(db_once(rows, loaded)))
    return {
        "db_results": len(rows),
        "db_merges": merges,
        "db_s": elapsed,
        "db_results_per_s": len(rows) / elapsed,
        "db_ops_per_s": (len(rows) + merges) / elapsed,
    }


def bench_startup(reps: int) -> dict[str, float]:
    def once() -> float:
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "runner", "run-suite", "--help"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return time.perf_counter() - t0

    return {"help_s": median_of(max(reps, 5), once)}


def redact_inputs() -> tuple[list[str], list[str], str, str]:
    """100 deterministic secrets, the forms planted, and a 1 MB JSON body with and without them."""
    import base64
    import random
    from urllib.parse import quote, quote_plus

    rng = random.Random(15)  # noqa: S311 (deterministic test data)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    secrets: list[str] = []
    for i in range(100):
        core = "".join(rng.choice(alphabet) for _ in range(rng.randint(12, 40)))
        kind = i % 4
        if kind == 1:
            core = f'pw {core[:8]}/"q+ü{core[8:]}'  # a password that needs escaping
        elif kind == 2:
            core = "eyJ" + core + "." + core[::-1]  # token-like
        secrets.append(core)
    words = ["alpha", "beta", "gamma", "delta", "items", "name", "value", "note", "x"]
    rows: list[dict[str, object]] = []
    size = 0
    while size < 1_000_000:
        blob = base64.b64encode(rng.randbytes(60)).decode()
        row = {
            "id": rng.randint(1, 10**9),
            "name": " ".join(rng.choice(words) for _ in range(6)),
            "email": f"user{rng.randint(1, 10**6)}@example.com",
            "blob": blob,
            "url": f"https://api.example.com/items/{rng.randint(1, 10**6)}?page=2&q=caf%C3%A9",
        }
        rows.append(row)
        size += len(json.dumps(row))
    clean = json.dumps(rows, ensure_ascii=False)
    # plant 40 occurrences of secrets, in several encodings, spread over the body
    planted: list[str] = []
    for n in range(40):
        secret = secrets[(n * 7) % len(secrets)]
        form = [
            secret,
            quote(secret, safe=""),
            quote_plus(secret),
            json.dumps(secret)[1:-1],
            base64.b64encode(f"user:{secret}".encode()).decode(),
        ][n % 5]
        planted.append(form)
        rows[(n * 997) % len(rows)]["note"] = f"seen {form} here"
    dirty = json.dumps(rows, ensure_ascii=False)
    return secrets, planted, clean, dirty


def bench_redact(reps: int) -> dict[str, float]:
    """CPU time (``process_time``): other load on a shared machine counts less."""
    import re

    from runner.secrets.redact import Redactor

    secrets, planted, clean, dirty = redact_inputs()
    reps = max(reps, 5)
    out: dict[str, float] = {"redact_body_bytes": float(len(dirty.encode()))}
    message = ("connection error: ConnectError (GET https://api.example.com/x?page=2) " * 3)[:200]

    def timed(fn: Callable[[], object], times: int = 1, runs: int = reps) -> float:
        def once() -> float:
            t0 = time.process_time()
            for _ in range(times):
                fn()
            return (time.process_time() - t0) / times

        return median_of(runs, once)

    # registering builds and stores the forms; the first scan after it pays the
    # (lazy) rebuild of the matcher
    def register() -> float:
        redactor = Redactor()
        t0 = time.process_time()
        for secret in secrets:
            redactor.add(secret)
        return (time.process_time() - t0) / len(secrets)

    out["redact_register_us"] = median_of(reps, register) * 1e6

    def add_then_scan() -> float:
        redactor = Redactor(secrets[:99])
        redactor.text("warm")
        t0 = time.process_time()
        redactor.add(secrets[99])
        redactor.text("a short message")
        return time.process_time() - t0

    out["redact_add_then_scan_ms"] = median_of(reps, add_then_scan) * 1e3

    # a run that learns a token per test: 1,000 of them, a message redacted after each
    tokens = [f"tok-{n:04d}-{'x' * 20}{n}" for n in range(1_000)]

    def learn_as_you_go() -> float:
        redactor = Redactor()
        t0 = time.process_time()
        for token in tokens:
            redactor.add(token)
            redactor.text(message)
        return time.process_time() - t0

    out["redact_learn_1000_ms"] = median_of(min(reps, 3), learn_as_you_go) * 1e3

    full = Redactor(secrets)
    redacted = full.text(dirty)
    out["redact_planted"] = float(len(planted))
    out["redact_planted_left"] = float(sum(1 for form in planted if form in redacted))
    out["redact_1mb_100_secrets_ms"] = timed(lambda: full.text(dirty)) * 1e3
    out["redact_1mb_clean_ms"] = timed(lambda: full.text(clean)) * 1e3
    one = Redactor(secrets[:1])
    out["redact_200c_1_secret_us"] = timed(lambda: one.text(message), 10_000) * 1e6
    out["redact_200c_100_secrets_us"] = timed(lambda: full.text(message), 10_000) * 1e6

    # the other matchers, on the same forms
    forms = sorted(full.secrets, key=len, reverse=True)
    out["redact_forms"] = float(len(forms))
    t0 = time.process_time()
    pattern = re.compile("|".join(re.escape(f) for f in forms))
    out["regex_compile_ms"] = (time.process_time() - t0) * 1e3
    out["regex_1mb_ms"] = timed(lambda: pattern.sub("[REDACTED]", dirty), runs=1) * 1e3
    out["regex_200c_us"] = timed(lambda: pattern.sub("[REDACTED]", message), 100) * 1e6
    try:
        import ahocorasick  # pyahocorasick, not a dependency: installed by hand to compare
    except ImportError:
        return out
    automaton = ahocorasick.Automaton(ahocorasick.STORE_LENGTH)
    for form in forms:
        automaton.add_word(form)
    automaton.make_automaton()
    out["pyahocorasick_1mb_ms"] = timed(lambda: list(automaton.iter(dirty))) * 1e3
    out["pyahocorasick_200c_us"] = timed(lambda: list(automaton.iter(message)), 10_000) * 1e6
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", default="load,pipeline,db,startup")
    a = ap.parse_args(argv)
    parts = a.only.split(",")
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if "load" in parts:
            out |= bench_load(a.reps, Path(tmp))
        if "pipeline" in parts:
            out |= bench_pipeline(a.reps)
        if "db" in parts:
            out |= bench_db(a.reps)
        if "startup" in parts:
            out |= bench_startup(a.reps)
        if "redact" in parts:
            out |= bench_redact(a.reps)
    for key, value in out.items():
        print(f"{key:26s} {value:12.3f}")
    if a.json:
        a.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
