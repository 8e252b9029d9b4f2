"""Commit-to-subscriber latency of serve's Realtime, and fan-out loss, with 100 subscribers.

    .venv/bin/python bench/realtime_latency.py [--subscribers 100] [--events 500]
        [--interval-ms 20] [--burst 1000] [--vsn 1.0.0|2.0.0]

Starts ``serve`` (the real app under uvicorn) in a child process in front of a
fresh database on a dedicated embedded PostgreSQL (RUNNER_BENCH_DIR, default
/tmp/runner-bench-realtime, port RUNNER_BENCH_REALTIME_PORT, default 54413, left
running), connects ``--subscribers`` raw websockets joined to one topic, then:

* paced: ``--events`` broadcasts, one every ``--interval-ms``, each its own
  transaction ``select realtime.send(...)`` — the path run events take. Latency is
  from just before the sending statement (its commit included) to the frame being
  read by each subscriber; prints p50/p95/p99/max over all deliveries;
* burst: ``--burst`` broadcasts in one transaction; prints how many each subscriber
  missed (the fan-out loss; 0 expected).

Server and subscribers run in separate processes (2 cores: one each, Postgres
shares); the clients are plain ``websockets`` so the measuring side stays cheap.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import websockets

TOPIC = "bench"


# ------------------------------------------------------------------ the server side
def serve_child(db_url: str, port: int) -> None:
    """Run serve on 127.0.0.1:port (in the child process)."""
    import uvicorn

    from runner.db.connect import Target
    from runner.serve.app import create_app
    from runner.serve.keys import ServeKeys
    from runner.serve.state import ServeState

    keys = ServeKeys.from_secret(os.environ["RUNNER_JWT_SECRET"])
    url = f"http://127.0.0.1:{port}"
    state = ServeState(target=Target(db_url, embedded=True), keys=keys, public_url=url)
    uvicorn.run(
        create_app(state),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        ws="websockets-sansio",
    )


def bench_database() -> str:
    """A fresh, migrated database on the benchmark's own embedded server."""
    from runner.db.connect import Target
    from runner.db.embedded import EmbeddedServer
    from runner.db.migrate import migrate

    root = Path(os.environ.get("RUNNER_BENCH_DIR", "/tmp/runner-bench-realtime"))  # noqa: S108
    server = EmbeddedServer(
        root / "data", int(os.environ.get("RUNNER_BENCH_REALTIME_PORT", "54413"))
    )
    server.start()
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        conn.execute("drop database if exists realtime_bench with (force)")
        conn.execute("create database realtime_bench")
    url = server.url("realtime_bench")
    asyncio.run(migrate(Target(url, embedded=True)))
    return url


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)  # polling a port for start-up in a benchmark, not a test
    raise RuntimeError("serve did not start")


# ------------------------------------------------------------------ the client side
class Subscriber:
    """One websocket joined to the topic, recording the send time of what it reads."""

    def __init__(self, ws: Any, vsn: str) -> None:
        self.ws = ws
        self.vsn = vsn
        self.latencies: list[float] = []
        self.burst_seen: set[int] = set()
        self.burst_expected = 0
        self.burst_done = asyncio.Event()

    async def join(self) -> None:
        topic = f"realtime:{TOPIC}"
        if self.vsn == "1.0.0":
            frame: Any = {
                "topic": topic,
                "event": "phx_join",
                "payload": {"config": {}},
                "ref": "1",
            }
        else:
            frame = ["1", "1", topic, "phx_join", {"config": {}}]
        await self.ws.send(json.dumps(frame))
        json.loads(await self.ws.recv())

    def payload(self, data: str | bytes) -> Any:
        if isinstance(data, bytes):  # vsn 2.0.0 user broadcast (kind 4)
            topic_len, event_len, meta_len = data[1], data[2], data[3]
            return json.loads(data[5 + topic_len + event_len + meta_len :])
        frame = json.loads(data)
        body = frame["payload"] if isinstance(frame, dict) else frame[4]
        return body.get("payload")

    async def read(self) -> None:
        async for data in self.ws:
            now = time.time()
            payload = self.payload(data)
            if not isinstance(payload, dict):
                continue
            if "t" in payload:
                self.latencies.append(now - payload["t"])
            elif "b" in payload:
                self.burst_seen.add(payload["b"])
                if len(self.burst_seen) >= self.burst_expected:
                    self.burst_done.set()


async def heartbeats(subscribers: list[Subscriber], stop: asyncio.Event) -> None:
    while not stop.is_set():
        for s in subscribers:
            if s.vsn == "1.0.0":
                await s.ws.send('{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"h"}')
            else:
                await s.ws.send('[null,"h","phoenix","heartbeat",{}]')
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 20)


async def measure(
    args: argparse.Namespace, db_url: str, port: int, anon_key: str, server_pid: int
) -> dict[str, Any]:
    url = f"ws://127.0.0.1:{port}/realtime/v1/websocket?apikey={anon_key}&vsn={args.vsn}"
    subscribers = []
    for _ in range(args.subscribers):
        ws = await websockets.connect(url, max_size=None, compression=None)
        sub = Subscriber(ws, args.vsn)
        await sub.join()
        subscribers.append(sub)
    readers = [asyncio.create_task(s.read()) for s in subscribers]
    stop = asyncio.Event()
    beat = asyncio.create_task(heartbeats(subscribers, stop))
    send = (
        "select realtime.send(jsonb_build_object('i', %s::int, 't', %s::float8), 'tick', %s, false)"
    )
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        for i in range(args.warmup + args.events):
            await conn.execute(send, (i, time.time(), TOPIC))
            await asyncio.sleep(args.interval_ms / 1000)
        await asyncio.sleep(1.0)  # let the last deliveries land before counting
        for s in subscribers:
            del s.latencies[: args.warmup]
        for s in subscribers:
            s.burst_expected = args.burst
        cpu_start = cpu_seconds(server_pid)
        burst_start = time.perf_counter()
        await conn.execute(
            "select realtime.send(jsonb_build_object('b', b), 'burst', %s, false) "
            "from generate_series(1, %s) as b",
            (TOPIC, args.burst),
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(s.burst_done.wait() for s in subscribers)), 60)
        burst_s = time.perf_counter() - burst_start
        burst_cpu = cpu_seconds(server_pid) - cpu_start
    stop.set()
    await beat
    for s in subscribers:
        await s.ws.close()
    for task in readers:
        task.cancel()
    latencies = sorted(x * 1000 for s in subscribers for x in s.latencies)
    expected = args.events * args.subscribers
    q = (
        statistics.quantiles(latencies, n=100, method="inclusive")
        if len(latencies) > 1
        else [0.0] * 99
    )
    return {
        "subscribers": args.subscribers,
        "vsn": args.vsn,
        "paced_events": args.events,
        "deliveries": len(latencies),
        "paced_lost": expected - len(latencies),
        "p50_ms": round(q[49], 2),
        "p95_ms": round(q[94], 2),
        "p99_ms": round(q[98], 2),
        "max_ms": round(latencies[-1], 2) if latencies else None,
        "burst_events": args.burst,
        "burst_lost": sum(args.burst - len(s.burst_seen) for s in subscribers),
        "burst_all_delivered_s": round(burst_s, 3),
        # the server's own cost per frame delivered, whatever else the machine is doing
        "server_cpu_us_per_delivery": round(
            burst_cpu * 1e6 / max(1, sum(len(s.burst_seen) for s in subscribers)), 1
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--interval-ms", type=float, default=20.0)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--vsn", choices=["1.0.0", "2.0.0"], default="1.0.0")
    parser.add_argument(
        "--serve-child", nargs=2, metavar=("DB_URL", "PORT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve_child:
        serve_child(args.serve_child[0], int(args.serve_child[1]))
        return 0

    from runner.serve.keys import ServeKeys

    load_before = os.getloadavg()[0]
    db_url = bench_database()
    secret = secrets.token_urlsafe(48)
    keys = ServeKeys.from_secret(secret)
    port = free_port()
    env = {**os.environ, "RUNNER_JWT_SECRET": secret}
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve-child", db_url, str(port)], env=env
    )
    try:
        wait_for_port(port)
        result = asyncio.run(measure(args, db_url, port, keys.anon_key, child.pid))
    finally:
        child.terminate()
        child.wait(30)
    # other work on the machine shows up as latency: say how busy it was
    result["load_average_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    print(json.dumps(result, indent=2))
    print(
        f"\n{result['subscribers']} subscribers, vsn {result['vsn']}: "
        f"p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, p99 {result['p99_ms']} ms "
        f"(max {result['max_ms']} ms) over {result['deliveries']} deliveries; "
        f"lost {result['paced_lost']} paced, {result['burst_lost']} of "
        f"{result['burst_events'] * result['subscribers']} in the burst"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
