"""Replaying spill files: what a run could not write, written by a later command.

A run whose database stayed down past ``RUNNER_DB_OUTAGE_S`` leaves its unwritten
operations in ``<data dir>/spill/run-<id>.jsonl`` (its finish last). Any later
command that opens the store, ``runner db status`` and ``runner db replay`` write
them through the same batch function the run used. Every write is idempotent
(results are keyed by run and test key, 0031), so a file replayed twice, or one
whose first half had been written, gives the same rows. A file whose run is still
going on (its writer holds the file's lock) is left to that run.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from runner.store.writer import (
    Op,
    batches,
    connection_lost,
    hold_spill_lock,
    lock_path,
    read_spill,
)

log = logging.getLogger("runner.store")

WriteRun = Callable[[str, Sequence[Op]], Awaitable[None]]
"""Writes one batch of a run: (run id, operations)."""

_SPILL_NAME = re.compile(r"^run-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")


@dataclass(frozen=True)
class ReplayReport:
    """What a replay wrote, and what it left."""

    runs: tuple[str, ...] = ()
    """Runs whose spill file was written completely (and removed)."""
    operations: int = 0
    results: int = 0
    left: tuple[Path, ...] = ()
    """Spill files still holding operations (database down, run still going, or refused)."""
    left_results: int = 0
    errors: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """What a command prints about it (nothing when there was nothing to replay)."""
        out: list[str] = []
        if self.runs:
            out.append(
                f"replayed {self.results} results ({self.operations} writes) of "
                f"{len(self.runs)} run(s) kept by an earlier database outage: "
                + ", ".join(self.runs)
            )
        out.extend(self.errors)
        if self.left:
            out.append(
                f"{self.left_results} results are still not in the database, kept in "
                + ", ".join(str(p) for p in self.left)
            )
        return out


def spill_files(spill_dir: Path) -> list[Path]:
    """The spill files of runs, oldest first."""
    try:
        found = [p for p in spill_dir.glob("run-*.jsonl") if _SPILL_NAME.match(p.stem)]
    except OSError:
        return []
    return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))


def _results_in(paths: Sequence[Path]) -> int:
    count = 0
    for path in paths:
        with contextlib.suppress(OSError):
            count += sum(1 for kind, _ in read_spill(path) if kind == "result")
    return count


async def replay_spills(
    spill_dir: Path,
    write: WriteRun,
    *,
    max_batch: int = 500,
    is_outage: Callable[[BaseException], bool] = connection_lost,
    describe: Callable[[BaseException], str] = str,
) -> ReplayReport:
    """Write every spill file of ``spill_dir`` through ``write``; remove those written.

    Stops at the first outage (the database went away again); a refused file (a
    data error) is kept and reported, and the others are still tried.
    """
    files = spill_files(spill_dir)
    if not files:
        return ReplayReport()
    done: list[str] = []
    left: list[Path] = []
    errors: list[str] = []
    operations = results = 0
    for index, path in enumerate(files):
        run_id = path.stem.removeprefix("run-")
        lock = hold_spill_lock(path)
        if lock is None:  # its run is still going on: its own writer replays it
            left.append(path)
            continue
        try:
            if not path.exists():  # another command replayed it meanwhile
                continue
            ops = read_spill(path)
            try:
                for batch in batches(ops, max_batch):
                    await write(run_id, batch)
            except Exception as exc:
                errors.append(f"cannot replay run {run_id} from {path}: {describe(exc)}")
                left.append(path)
                if is_outage(exc):
                    left.extend(files[index + 1 :])
                    break
                continue
            path.unlink(missing_ok=True)
            done.append(run_id)
            operations += len(ops)
            results += sum(1 for kind, _ in ops if kind == "result")
            log.info("replayed %d operations of run %s from %s", len(ops), run_id, path)
        finally:
            if not path.exists():
                lock_path(path).unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
            lock.close()
    return ReplayReport(
        runs=tuple(done),
        operations=operations,
        results=results,
        left=tuple(left),
        left_results=_results_in(left),
        errors=tuple(errors),
    )
