"""Run the project's benchmarks and print one table of every target.

    .venv/bin/python bench/run.py                  # everything (~15 min on the 2-core box)
    .venv/bin/python bench/run.py --only micro     # or peers, latency (comma list)
    .venv/bin/python bench/run.py --reps 3 --peer-dir /tmp/peerbench

Parts (each needs nothing running beforehand):

* ``peers``: ``shared/bench/run_peers.py`` (the peer driver) with this project
  added through ``--extra``, in two modes: ``runner-rec`` (full recording on a
  dedicated embedded PostgreSQL, migrated in the untimed prep step) and
  ``runner-nostore`` (``--no-store``). On loopback the recording mode runs at the
  runner's default concurrency (Step CI runs at its own default) and
  ``--no-store`` one test at a time (it is compared with the sequential httpx
  limit). N = 25 and 250 with every peer; then
  N = 250 and 2,500 together with Step CI and the httpx limit only (Newman alone
  would take ~3 min a run), and the loopback targets are read from that second
  run, so every ratio compares runs made side by side.
* ``latency``: the same driver and suite against ``bench/latency_target.py``
  (every answer after 50 ms), N = 250, peers included; the runner uses
  ``--concurrency 256`` there (Step CI runs all chains at once by default).
* ``micro``: ``bench/micro.py`` (suite load and plan for 100,000 tests, per-test
  render + capture + check, database write throughput, ``--help`` start-up).

Timings stay here, never in pytest assertions. The driver checks every run:
exit 0, the closing line ``<1+4N> passed, 0 failed``, and exactly 1 + 4N
requests seen by the target. Results land in ``OUT/`` (default
``/tmp/runner-bench/results/<time>``): the driver's logs, ``results.json`` per
part, and ``targets.md``, the table printed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
SHARED = Path(os.environ.get("PEERBENCH_DRIVER_DIR", ROOT.parent / "shared" / "bench"))
PY = sys.executable
# benchmark scratch space on this machine only, never shared with another user
TMP = Path(os.environ.get("RUNNER_BENCH_DIR", "/tmp/runner-bench"))  # noqa: S108
DATA_DIR = TMP / "data"
DB_PORT = os.environ.get("RUNNER_BENCH_PORT", "54411")
LATENCY_PORT = 8090
PEERS_ALL = "newman,stepci,stepci-c1,tavern,httpx-seq,httpx-c16"
PEERS_BIG = "stepci,httpx-seq"
# sequential peers take ~1 min a run at 50 ms a request; stepci-c1 and httpx-seq
# would add two more such runs without saying anything new
PEERS_LATENCY = "newman,stepci,tavern,httpx-c16"


def runner_extras(rec_concurrency: int | None, nostore_concurrency: int) -> list[str]:
    """``--extra``/``--extra-prep`` arguments adding both runner modes to the driver.

    ``rec_concurrency`` None runs the recording mode at the runner's default
    concurrency (8), as Step CI runs at its own default; ``--no-store`` is compared
    with the sequential httpx limit, so on loopback it runs one test at a time.
    """
    rec_flag = "" if rec_concurrency is None else f" --concurrency {rec_concurrency}"
    env = f"RUNNER_DATA_DIR={shlex.quote(str(DATA_DIR))} RUNNER_EMBEDDED_PORT={DB_PORT}"
    run = f"{shlex.quote(PY)} -m runner run-suite {{suite}}/runner/suite.json"
    conv = f"{shlex.quote(PY)} {shlex.quote(str(BENCH / 'convert_peer_suite.py'))}"
    # the bench database is scratch: if a migration it applied was edited since
    # (work in progress), start it afresh rather than fail the whole run
    migrate = (
        f"{{ {env} {shlex.quote(PY)} -m runner db migrate >/dev/null 2>&1 || "
        f"{env} {shlex.quote(PY)} -m runner db reset >/dev/null; }}"
    )
    return [
        "--extra-prep",
        f"runner-rec={conv} {{suite}}/suite.json {{suite}}/runner && {migrate}",
        "--extra",
        f"runner-rec={env} {run}{rec_flag}",
        "--extra",
        f"runner-nostore={run} --no-store --concurrency {nostore_concurrency}",
    ]


def drive(args: list[str], out: Path, *, latency: bool, timeout: float) -> list[dict[str, Any]]:
    """Run the peer driver (patched onto the latency target when asked); its results."""
    out.mkdir(parents=True, exist_ok=True)
    cmd = [PY, str(BENCH / "peers_latency.py")] if latency else [PY, str(SHARED / "run_peers.py")]
    cmd += [*args, "--out", str(out), "--timeout", str(timeout)]
    print("$", shlex.join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=False)
    path = out / "results.json"
    return list(json.loads(path.read_text())) if path.exists() else []


def compile_bytecode() -> None:
    """Untimed prep: write the package's bytecode, as ``pip install`` does for a wheel.

    An editable checkout only gets ``__pycache__`` when Python may write it; with
    PYTHONDONTWRITEBYTECODE set (as on the machine these figures come from) every
    run would compile the runner's ~70 modules again (~0.1 s of start-up) that no
    installed copy pays. The peers run from their installs, already compiled.
    """
    cmd = [PY, "-m", "compileall", "-q", str(ROOT / "src" / "runner")]
    print("$", shlex.join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=False, stdout=subprocess.DEVNULL)


def medians(results: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, float]]:
    """Median wall, tests/s, cpu and RSS per (runner, N) over the runs that passed."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault((r["runner"], r["n"]), []).append(r)
    out: dict[tuple[str, int], dict[str, float]] = {}
    for key, runs in groups.items():
        good = [r for r in runs if r["ok"]]
        if not good:
            out[key] = {"ok": 0, "runs": len(runs)}
            continue
        wall = statistics.median(r["wall_s"] for r in good)
        tests = 1 + 4 * key[1]
        rss = [r["rss_kb"] / 1024 for r in good if r.get("rss_kb")]
        out[key] = {
            "ok": len(good),
            "runs": len(runs),
            "wall": wall,
            "tps": tests / wall,
            "ms_per_test": wall * 1000 / tests,
            "rss": statistics.median(rss) if rss else float("nan"),
        }
    return out


class Table:
    def __init__(self) -> None:
        self.rows: list[list[str]] = []

    def ratio(self, target: str, ours: float | None, theirs: float | None, want: str) -> None:
        """``want`` is ``>=X`` or ``<=X`` on ours / theirs."""
        if ours is None or theirs is None:
            self.rows.append([target, "-", "-", "-", want, "not measured"])
            return
        r = ours / theirs
        bound = float(want[2:])
        met = r >= bound if want.startswith(">=") else r <= bound
        self.rows.append(
            [target, f"{ours:.3g}", f"{theirs:.3g}", f"{r:.2f}", want, "met" if met else "NOT met"]
        )

    def absolute(self, target: str, value: float | None, limit: float, unit: str) -> None:
        if value is None:
            self.rows.append([target, "-", "-", "-", f"< {limit:g} {unit}", "not measured"])
            return
        met = "met" if value < limit else "NOT met"
        self.rows.append([target, f"{value:.3g} {unit}", "-", "-", f"< {limit:g} {unit}", met])

    def markdown(self) -> str:
        head = ["target", "ours", "reference", "ratio", "wanted", "result"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines) + "\n"


def get(m: dict[tuple[str, int], dict[str, float]], runner: str, n: int, key: str) -> float | None:
    v = m.get((runner, n), {}).get(key)
    return None if v is None else float(v)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="peers,latency,micro")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--peer-dir", default=os.environ.get("PEERBENCH_DIR", "/tmp/peerbench"))  # noqa: S108
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--latency-n", type=int, default=250)
    ap.add_argument("--latency-reps", type=int, default=2)
    ap.add_argument("--skip-big", action="store_true", help="leave out N = 2,500")
    a = ap.parse_args(argv)
    parts = set(a.only.split(","))
    out = a.out or TMP / "results" / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    compile_bytecode()
    common = ["--peer-dir", a.peer_dir, "--reps", str(a.reps)]
    table = Table()

    if "peers" in parts:
        res = drive(
            [*common, "--n", "25", "250", "--runners", PEERS_ALL, *runner_extras(None, 1)],
            out / "peers-small",
            latency=False,
            timeout=300,
        )
        if not a.skip_big:
            # N = 250 again next to 2,500, so every loopback ratio comes from one run
            res = drive(
                [
                    *common,
                    *("--n", "250", "2500", "--runners", PEERS_BIG, "--no-warmup"),
                    *runner_extras(None, 1),
                ],
                out / "peers-big",
                latency=False,
                timeout=600,
            )
        m = medians(res)
        (out / "peers-medians.json").write_text(
            json.dumps({f"{k[0]}@{k[1]}": v for k, v in m.items()}, indent=1)
        )
        for n, want in ((250, ">=1.5"), (2500, ">=1.0")):
            table.ratio(
                f"recording N={n}: tests/s vs Step CI",
                get(m, "runner-rec", n, "tps"),
                get(m, "stepci", n, "tps"),
                want,
            )
        for n in (250, 2500):
            table.ratio(
                f"--no-store N={n}: wall vs httpx-seq",
                get(m, "runner-nostore", n, "wall"),
                get(m, "httpx-seq", n, "wall"),
                "<=1.15",
            )
        for mode in ("runner-rec", "runner-nostore"):
            table.ratio(
                f"growth {mode}: ms/test N=2500 vs N=250",
                get(m, mode, 2500, "ms_per_test"),
                get(m, mode, 250, "ms_per_test"),
                "<=1.1",
            )
            table.absolute(f"peak RSS {mode} N=2500", get(m, mode, 2500, "rss"), 200, "MB")

    if "latency" in parts:
        n = a.latency_n
        res = drive(
            [
                *common[:2],
                "--reps",
                str(a.latency_reps),
                "--n",
                str(n),
                "--runners",
                PEERS_LATENCY,
                *runner_extras(256, 256),
            ],
            out / "latency",
            latency=True,
            timeout=600,
        )
        m = medians(res)
        (out / "latency-medians.json").write_text(
            json.dumps({f"{k[0]}@{k[1]}": v for k, v in m.items()}, indent=1)
        )
        for mode in ("runner-rec", "runner-nostore"):
            for peer, want in (("newman", ">=10"), ("tavern", ">=10"), ("stepci", ">=1.5")):
                table.ratio(
                    f"50 ms target N={n} {mode}: tests/s vs {peer}",
                    get(m, mode, n, "tps"),
                    get(m, peer, n, "tps"),
                    want,
                )

    if "micro" in parts:
        cmd = [PY, str(BENCH / "micro.py"), "--json", str(out / "micro.json")]
        print("$", shlex.join(cmd), flush=True)
        subprocess.run(cmd, cwd=ROOT, check=False)
        micro = (
            json.loads((out / "micro.json").read_text()) if (out / "micro.json").exists() else {}
        )
        table.absolute("plan 100,000 tests (plan only)", micro.get("plan_s"), 3, "s")
        table.absolute("load + plan 100,000 tests (JSON)", micro.get("load_plan_s"), 3, "s")
        table.absolute(
            "load + plan 100,000 tests, as run-suite does", micro.get("load_plan_cli_s"), 3, "s"
        )
        table.absolute("start-up: run-suite --help", micro.get("help_s"), 0.5, "s")

    text = table.markdown()
    (out / "targets.md").write_text(text)
    print("\n" + text + f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
