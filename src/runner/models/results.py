"""The results: the typed output of a run, plain data already redacted."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field


class Status(StrEnum):
    """Final status of one test (or one data row of it)."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"


class ErrorCategory(StrEnum):
    """Why a test did not pass. ``assertion`` is a failed check; the rest are errors."""

    ASSERTION = "assertion"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    HTTP_5XX = "http_5xx"
    TEMPLATE = "template"
    REQUEST = "request"
    """The rendered request cannot be sent as is (a bad URL, a CR/LF in a header)."""
    CAPTURE = "capture"
    BLOCKED = "blocked"
    INTERRUPTED = "interrupted"
    BAILED = "bailed"
    INTERNAL = "internal"
    RESPONSE_TOO_LARGE = "response_too_large"


# One shared set per distinct combination of fields set. pydantic keeps a set of the
# field names given on every instance (~0.7-2 KB each); a run holds about five result
# models per test, which made these sets ~15 % of the peak memory at 10,000 tests.
# Result models are frozen, so nothing adds to a shared set in place (copies get
# their own set from pydantic).
_FIELDS_SETS: dict[frozenset[str], set[str]] = {}


class ResultModel(BaseModel):
    """Base of result models: plain data, safe to serialise (already redacted)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def model_post_init(self, context: Any, /) -> None:
        fields_set = self.__pydantic_fields_set__
        shared = _FIELDS_SETS.setdefault(frozenset(fields_set), fields_set)
        object.__setattr__(self, "__pydantic_fields_set__", shared)


class CheckResult(ResultModel):
    """One evaluated check: what was expected, what was seen, and the difference."""

    name: str
    passed: bool
    expected: Any = None
    actual: Any = None
    message: str = ""


class Attempt(ResultModel):
    """One try of a request (the first one is number 1)."""

    number: int
    started_at: datetime
    duration_ms: float
    status_code: int | None = None
    error_category: ErrorCategory | None = None
    error: str | None = None


class Snapshot(ResultModel):
    """A redacted, truncated request or response as stored."""

    method: str | None = None
    url: str | None = None
    status_code: int | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    truncated: bool = False


class TestResult(ResultModel):
    """The outcome of one test, or one data row of a data-driven test."""

    __test__ = False

    test_id: str
    key: str = Field(description="test_id, or test_id[row] for a data row.")
    name: str
    row_index: int | None = None
    status: Status
    error_category: ErrorCategory | None = None
    message: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: float | None = Field(default=None, description="Response time, last attempt.")
    status_code: int | None = None
    checks: tuple[CheckResult, ...] = ()
    attempts: tuple[Attempt, ...] = ()
    captured: dict[str, Any] = Field(default_factory=dict, description="Redacted values.")
    request: Snapshot | None = None
    response: Snapshot | None = None
    passed_after_retry: bool = False
    tags: tuple[str, ...] = ()


class RunStatus(StrEnum):
    """Lifecycle of a run."""

    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    ERROR = "error"


Counts = Annotated[dict[str, int], Field(description="passed/failed/error/skipped/total")]


class RunResult(ResultModel):
    """What a finished run returns to the caller and the reporters."""

    run_id: str | None
    suite: str
    environment: str | None
    status: RunStatus
    started_at: datetime
    finished_at: datetime
    results: tuple[TestResult, ...]
    quarantined: tuple[str, ...] = ()
    """Test ids quarantined when the run started: their failures do not fail the run."""

    @property
    def counts(self) -> dict[str, int]:
        """Number of results by status, plus ``total``."""
        out = {s.value: 0 for s in Status}
        for r in self.results:
            out[r.status.value] += 1
        out["total"] = len(self.results)
        return out

    @property
    def quarantined_failures(self) -> tuple[TestResult, ...]:
        """Failed and errored results of quarantined tests (recorded, but not failing the run)."""
        bad = (Status.FAILED, Status.ERROR)
        return tuple(r for r in self.results if r.status in bad and r.test_id in self.quarantined)

    @property
    def ok(self) -> bool:
        """True when nothing failed or errored, failures of quarantined tests aside."""
        c = self.counts
        failing = c["failed"] + c["error"] - len(self.quarantined_failures)
        return failing == 0 and self.status != RunStatus.INTERRUPTED
