"""The peer driver (``shared/bench/run_peers.py``) pointed at the 50 ms target.

    .venv/bin/python bench/peers_latency.py [run_peers options] [--delay-ms 50]

Takes every option of run_peers.py. It imports the driver unchanged and only
swaps its target: instead of nginx on :8089 it starts ``latency_target.py`` on
127.0.0.1:8090 (same endpoints and answers, each after ``--delay-ms``), so the
suites are generated for that address, and the request counter and target CPU
are read from that process. Every pass check stays the driver's own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("PEERBENCH_DRIVER_DIR", HERE.parent.parent / "shared" / "bench"))
PORT = 8090


def main() -> int:
    argv = sys.argv[1:]
    delay = "50"
    if "--delay-ms" in argv:
        i = argv.index("--delay-ms")
        delay = argv[i + 1]
        del argv[i : i + 2]
    sys.path.insert(0, str(SHARED))
    import run_peers  # the shared driver, unchanged

    base = f"http://127.0.0.1:{PORT}"
    run_peers.BASE_URL = base
    run_peers.STATUS_URL = base + "/_bench/status"
    procs: dict[int, subprocess.Popen[bytes]] = {}

    def start_target() -> int:
        cmd = [sys.executable, str(HERE / "latency_target.py"), "--port", str(PORT)]
        proc = subprocess.Popen([*cmd, "--delay-ms", delay])
        procs[proc.pid] = proc
        for _ in range(100):
            try:
                with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                    run_peers.STATUS_URL, timeout=1
                ):
                    return proc.pid
            except OSError:
                time.sleep(0.05)
        proc.kill()
        raise SystemExit("latency target did not start")

    def stop_target(pid: int) -> None:
        proc = procs.pop(pid)
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()

    run_peers.start_target = start_target
    run_peers.stop_target = stop_target
    sys.argv = [str(SHARED / "run_peers.py"), *argv]
    result: int = run_peers.main()
    return result


if __name__ == "__main__":
    raise SystemExit(main())
