"""Shows a run while it happens: a live rich progress bar on a terminal, one plain
line per finished test otherwise (CI logs, pipes)."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any, TextIO

from runner.execute.engine import RunEvent
from runner.models import Status, TestResult

_LABEL = {
    Status.PASSED: "PASS ",
    Status.FAILED: "FAIL ",
    Status.ERROR: "ERROR",
    Status.SKIPPED: "SKIP ",
}


def result_line(result: TestResult) -> str:
    """One line for a finished test: status, key, time or reason."""
    parts = [_LABEL[result.status], result.key]
    if result.duration_ms is not None:
        parts.append(f"({result.duration_ms:.0f} ms)")
    if result.passed_after_retry:
        parts.append(f"after {len(result.attempts)} attempts")
    if result.status is not Status.PASSED:
        category = f"[{result.error_category.value}] " if result.error_category else ""
        if category or result.message:
            parts.append(f"{category}{result.message}".strip())
    return " ".join(parts)


class Progress:
    """An ``on_event`` callback; use it as a context manager around the run."""

    def __init__(self, stream: TextIO | None = None, *, tty: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self._bar: Any = None
        self._task: Any = None
        self._counts = {s: 0 for s in Status}

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the live display (it leaves the final bar on screen)."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        self.stream.flush()

    def __call__(self, event: RunEvent) -> None:
        if event.kind == "run_started":
            if self.tty:
                self._start_bar(event.total)
        elif event.kind == "test_finished" and event.result is not None:
            self._finished(event.result)

    def _start_bar(self, total: int) -> None:
        # rich is imported only for terminals: plain runs should not pay for it
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        self._bar = RichProgress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            console=Console(file=self.stream),
            transient=False,
        )
        self._bar.start()
        self._task = self._bar.add_task("running", total=total, counts="")

    def _finished(self, result: TestResult) -> None:
        self._counts[result.status] += 1
        if self._bar is None:
            self.stream.write(result_line(result) + "\n")
            return
        if result.status in (Status.FAILED, Status.ERROR):
            self._bar.console.print(result_line(result), markup=False, highlight=False)
        c = self._counts
        counts = (
            f"[green]{c[Status.PASSED]} passed[/] [red]{c[Status.FAILED]} failed[/] "
            f"[red]{c[Status.ERROR]} errors[/] [yellow]{c[Status.SKIPPED]} skipped[/]"
        )
        self._bar.update(self._task, advance=1, counts=counts)
