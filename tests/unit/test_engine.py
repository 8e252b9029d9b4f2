"""The scheduler and the per-test pipeline, against httpx.MockTransport and an in-memory store."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from runner.execute.engine import RunEvent, execute
from runner.execute.http.send import backoff_delay
from runner.models import ErrorCategory, RetryPolicy, RunResult, RunStatus, Status, TestResult
from runner.plan.graph import Plan, build_plan
from runner.secrets.redact import REDACTED
from runner.store.base import NullStore, RunInfo
from runner.suite.environment import resolve_environment
from runner.suite.load import load_suite_text

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


class RecordingStore(NullStore):
    """A Store that keeps every call in memory, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.results: dict[str, TestResult] = {}
        self.info: RunInfo | None = None

    async def start_run(self, info: RunInfo) -> str | None:
        self.info = info
        self.calls.append(("start_run",))
        return "run-1"

    async def test_started(self, test_key: str) -> None:
        self.calls.append(("test_started", test_key))

    async def record_result(self, result: TestResult) -> None:
        self.calls.append(("record_result", result.key))
        self.results[result.key] = result

    async def context_changed(
        self,
        test_id: str,
        captured: dict[str, Any],
        tokens: dict[str, str],
        variables: dict[str, Any],
        secret_keys: frozenset[str],
    ) -> None:
        self.calls.append(("context_changed", test_id, captured, tokens, variables, secret_keys))

    async def finish_run(self, status: RunStatus) -> None:
        self.calls.append(("finish_run", status))

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]


def plan_of(text: str) -> Plan:
    return build_plan(load_suite_text(text, file="suite.yaml"))


async def run(
    text: str,
    handler: Handler,
    *,
    concurrency: int = 1,
    bail: bool = False,
    store: RecordingStore | None = None,
    environ: dict[str, str] | None = None,
    sleep: Callable[[float], Any] | None = None,
    events: list[RunEvent] | None = None,
) -> RunResult:
    plan = plan_of(text)
    environment = resolve_environment(plan.loaded, None, environ or {}, dotenv={})

    async def no_wait(seconds: float) -> None:
        return None

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        return await execute(
            plan,
            store=store or RecordingStore(),
            client=client,
            environment=environment,
            concurrency=concurrency,
            bail=bail,
            seed=7,
            body_limit=8192,
            on_event=events.append if events is not None else None,
            sleep=sleep or no_wait,
        )


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"path": request.url.path})


def by_key(result: RunResult) -> dict[str, TestResult]:
    return {r.key: r for r in result.results}


def suite(*tests: str, extra: str = "") -> str:
    return "name: s\nbase_url: http://api.test\n" + extra + "tests:\n" + "".join(tests)


def case(
    test_id: str, *, url: str | None = None, request: str | None = None, more: str = ""
) -> str:
    """One test in YAML: GET /<id> unless ``url`` or a whole ``request`` is given."""
    request = request or f"{{url: {url or '/' + test_id}}}"
    return f"  - id: {test_id}\n    request: {request}\n{more}"


# ------------------------------------------------------------------ scheduling


async def test_a_test_starts_as_soon_as_its_own_dependencies_finish() -> None:
    """c (needs only b) starts while a, from the same first generation, is still running."""
    text = suite(
        case("a"),
        case("b"),
        case("c", more="    depends_on: [b]\n"),
    )
    c_started = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/a":
            # a only finishes once c has been sent: a generation-by-generation
            # scheduler would deadlock here (and the wait_for below would fail)
            await c_started.wait()
        if request.url.path == "/c":
            c_started.set()
        return ok(request)

    store = RecordingStore()
    result = await asyncio.wait_for(run(text, handler, concurrency=2, store=store), timeout=10)
    assert result.ok
    recorded = [c[1] for c in store.calls if c[0] == "record_result"]
    assert recorded == ["b", "c", "a"]


async def test_concurrency_bounds_requests_in_flight() -> None:
    """At most `concurrency` requests are in flight, and that many are reached."""
    text = suite(*(case(f"t{i}") for i in range(10)))
    in_flight = 0
    most = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        for _ in range(5):  # hand control to the other workers
            await asyncio.sleep(0)
        in_flight -= 1
        return ok(request)

    result = await run(text, handler, concurrency=3)
    assert result.counts["passed"] == 10
    assert most == 3


async def test_with_concurrency_one_the_order_is_exactly_the_plan_order() -> None:
    """One worker runs the tests in plan.order (dependencies first, ties by file order)."""
    text = suite(
        case("checkout", more="    depends_on: [cart]\n"),
        case("login"),
        case("cart", more="    depends_on: [login]\n"),
        case("health"),
    )
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path.strip("/"))
        return ok(request)

    store = RecordingStore()
    await run(text, handler, store=store)
    order = list(plan_of(text).order)
    assert seen == order == ["login", "cart", "checkout", "health"]
    assert store.info is not None and list(store.info.order) == order


async def test_dependents_of_a_failure_are_skipped_as_blocked() -> None:
    """A failing test blocks its dependents (transitively) as skipped, not failed."""
    text = suite(
        case("a", more="    checks: {status: 201}\n"),
        case("b", more="    depends_on: [a]\n"),
        case("c", more="    depends_on: [b]\n"),
        case("d"),
    )
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return ok(request)

    result = await run(text, handler)
    results = by_key(result)
    assert results["a"].status is Status.FAILED
    for key in ("b", "c"):
        assert results[key].status is Status.SKIPPED
        assert results[key].error_category is ErrorCategory.BLOCKED
        assert results[key].message == "blocked by a"
    assert results["d"].status is Status.PASSED
    assert sent == ["/a", "/d"]
    assert result.status is RunStatus.FAILED
    assert result.counts == {"passed": 1, "failed": 1, "error": 0, "skipped": 2, "total": 4}


async def test_bail_stops_scheduling_after_the_first_failure() -> None:
    """--bail: after a failure nothing new starts; the rest is skipped as bailed."""
    text = suite(
        case("a"),
        case("b", more="    checks: {status: 500}\n"),
        case("c", more="    depends_on: [b]\n"),
        case("d"),
        case("e"),
    )
    result = await run(text, ok, bail=True)
    results = by_key(result)
    assert results["a"].status is Status.PASSED
    assert results["b"].status is Status.FAILED
    assert results["c"].error_category is ErrorCategory.BLOCKED
    for key in ("d", "e"):
        assert results[key].status is Status.SKIPPED
        assert results[key].error_category is ErrorCategory.BAILED
    assert [r.key for r in result.results] == ["a", "b", "c", "d", "e"]


async def test_data_rows_give_one_result_each_and_the_last_row_feeds_dependents() -> None:
    """Each row is a result `id[i]`; dependents see the last row's captures."""
    text = suite(
        "  - id: make\n"
        "    data: [{sku: a1}, {sku: b2}]\n"
        "    request: {method: POST, url: /items, json: {sku: '{{ row.sku }}'}}\n"
        "    captures: {sku: $.sku}\n",
        case("show", url="'/items/{{ captured_data.make.sku }}'"),
    )

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, json=json.loads(request.content))
        return ok(request)

    store = RecordingStore()
    result = await run(text, handler, store=store)
    results = by_key(result)
    assert [r.key for r in result.results] == ["make[0]", "make[1]", "show"]
    assert [results["make[0]"].row_index, results["make[1]"].row_index] == [0, 1]
    assert results["make[0]"].captured == {"sku": "a1"}
    assert results["show"].request is not None
    assert results["show"].request.url == "http://api.test/items/b2"
    contexts = [c[1:3] for c in store.calls if c[0] == "context_changed"]
    assert contexts == [("make[0]", {"sku": "a1"}), ("make[1]", {"sku": "b2"})]


async def test_a_failing_row_fails_the_test_for_its_dependents() -> None:
    """A data-driven test passes for dependents only when every row passed."""
    text = suite(
        "  - id: make\n"
        "    data: [{code: 200}, {code: 404}, {code: 200}]\n"
        "    request: {url: '/status/{{ row.code }}'}\n"
        "    checks: {status: 200}\n",
        case("after", more="    depends_on: [make]\n"),
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(int(request.url.path.rsplit("/", 1)[1]))

    result = await run(text, handler)
    statuses = {r.key: r.status for r in result.results}
    assert statuses == {
        "make[0]": Status.PASSED,
        "make[1]": Status.FAILED,
        "make[2]": Status.PASSED,
        "after": Status.SKIPPED,
    }
    assert by_key(result)["after"].message == "blocked by make"


async def test_cancellation_keeps_finished_results_and_marks_the_run_interrupted() -> None:
    """Cancelled mid-run: finished results stay, the rest are interrupted, the run is finished."""
    text = suite(case("a"), case("b"), case("c"))
    b_sent = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/b":
            b_sent.set()
            await asyncio.Event().wait()  # never answers
        return ok(request)

    store = RecordingStore()
    events: list[RunEvent] = []
    task = asyncio.create_task(run(text, handler, store=store, events=events))
    await b_sent.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert store.results["a"].status is Status.PASSED
    for key in ("b", "c"):
        assert store.results[key].status is Status.SKIPPED
        assert store.results[key].error_category is ErrorCategory.INTERRUPTED
    assert store.calls[-1] == ("finish_run", RunStatus.INTERRUPTED)
    final = events[-1]
    assert final.kind == "run_finished" and final.run is not None
    assert final.run.status is RunStatus.INTERRUPTED


async def test_a_failing_store_ends_the_run_as_error_and_propagates() -> None:
    """A store error is not a test result: the run is finished as error and the error raised."""

    class BrokenOnce(RecordingStore):
        broken = False

        async def record_result(self, result: TestResult) -> None:
            if not self.broken:
                self.broken = True
                raise RuntimeError("database went away")
            await super().record_result(result)

    store = BrokenOnce()
    with pytest.raises(RuntimeError, match="database went away"):
        await run(suite(case("a"), case("b")), ok, store=store)
    assert store.results["b"].error_category is ErrorCategory.INTERNAL
    assert store.calls[-1] == ("finish_run", RunStatus.ERROR)


async def test_store_calls_come_in_order() -> None:
    """start_run first; test_started before each result; context after captures; finish_run last."""
    text = suite(
        case(
            "login",
            more="    captures: {token: {path: $.token, as_token: main}, uid: {path: $.uid, "
            "as_variable: user}}\n",
        ),
        case("me", url="'/me/{{ shared_variables.user }}'"),
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"token": "tok-abc", "uid": 5})

    store = RecordingStore()
    result = await run(text, handler, store=store)
    assert result.ok and result.run_id == "run-1"
    assert store.names() == [
        "start_run",
        "test_started",
        "context_changed",
        "record_result",
        "test_started",
        "record_result",
        "finish_run",
    ]
    context = store.calls[2]
    assert context == (
        "context_changed",
        "login",
        {"token": "tok-abc", "uid": 5},
        {"main": "tok-abc"},
        {"user": 5},
        frozenset({"token"}),  # a token (and a capture named like one) is secret
    )
    assert store.calls[-1] == ("finish_run", RunStatus.PASSED)


# ------------------------------------------------------------- per-test errors


async def test_a_missing_template_name_is_a_template_error_and_sends_nothing() -> None:
    """The message names the test, the field and the missing name; no request is sent."""
    text = suite(
        case("cart", request="{url: /cart, headers: {Authorization: 'Bearer {{ env.nope }}'}}")
    )
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return ok(request)

    (result,) = (await run(text, handler)).results
    assert result.status is Status.ERROR
    assert result.error_category is ErrorCategory.TEMPLATE
    assert result.message == "test cart: request.headers.Authorization: 'env.nope' is undefined"
    assert sent == []


async def test_a_capture_that_finds_nothing_is_a_capture_error() -> None:
    """The result is an error of category capture naming the expression."""
    text = suite(case("a", more="    captures: {id: $.id}\n"))
    (result,) = (await run(text, ok)).results
    assert result.status is Status.ERROR
    assert result.error_category is ErrorCategory.CAPTURE
    assert result.message == "capture id: JSONPath $.id found nothing"


async def test_failed_checks_are_an_assertion_failure_with_every_message() -> None:
    """All failing check messages are joined in the result message."""
    text = suite(
        case(
            "a",
            more="    checks: {status: 201, json: [{path: $.path, value: /b}]}\n",
        )
    )
    (result,) = (await run(text, ok)).results
    assert result.status is Status.FAILED
    assert result.error_category is ErrorCategory.ASSERTION
    assert (
        result.message == 'status: expected 201 (eq), got 200; $.path: expected "/b" (eq), got "/a"'
    )
    assert len(result.checks) == 2


@pytest.mark.parametrize(
    ("checks", "status", "category"),
    [
        ("", Status.ERROR, ErrorCategory.HTTP_5XX),
        ("    checks: {status: 200}\n", Status.ERROR, ErrorCategory.HTTP_5XX),
        ("    checks: {status: 503}\n", Status.PASSED, None),
        ("    checks: {status: {min: 500, max: 599}}\n", Status.PASSED, None),
    ],
)
async def test_a_server_error_is_http_5xx_unless_a_status_check_expects_it(
    checks: str, status: Status, category: ErrorCategory | None
) -> None:
    """A 5xx that no status check accepts is an error of category http_5xx."""
    text = suite(case("a", more=checks))
    (result,) = (await run(text, lambda r: httpx.Response(503))).results
    assert result.status is status
    assert result.error_category is category
    if category:
        assert result.message.startswith("HTTP 503 Service Unavailable")


async def test_an_unreachable_target_is_a_connection_error() -> None:
    """A transport error becomes an error of category connection, with the URL."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    (result,) = (await run(suite(case("a")), handler)).results
    assert result.status is Status.ERROR
    assert result.error_category is ErrorCategory.CONNECTION
    assert result.message == (
        "connection error: ConnectError: connection refused (GET http://api.test/a)"
    )
    assert len(result.attempts) == 1


# --------------------------------------------------------------------- retries


async def test_retries_on_listed_status_with_backoff_and_passes_after_retry() -> None:
    """on_status is retried; every attempt is kept; the delays follow the seeded backoff."""
    text = suite(
        case(
            "a",
            more="    retries: {count: 3, backoff: 0.5, max_backoff: 1.5, jitter: 0.2, "
            "on_status: [503]}\n    checks: {status: 200}\n",
        )
    )
    answers = iter([503, 503, 200])
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    (result,) = (await run(text, lambda r: httpx.Response(next(answers)), sleep=sleep)).results
    assert result.status is Status.PASSED
    assert result.passed_after_retry
    assert [a.status_code for a in result.attempts] == [503, 503, 200]
    assert [a.number for a in result.attempts] == [1, 2, 3]
    policy = RetryPolicy(count=3, backoff=0.5, max_backoff=1.5, jitter=0.2, on_status=(503,))
    rng = random.Random("7:retries")
    assert delays == [backoff_delay(policy, 1, rng), backoff_delay(policy, 2, rng)]
    assert 0.5 <= delays[0] <= 0.6 and 1.0 <= delays[1] <= 1.2


def test_backoff_doubles_and_is_capped() -> None:
    """The delay doubles per retry up to max_backoff, plus at most `jitter` of itself."""
    policy = RetryPolicy(backoff=1, max_backoff=3, jitter=0)
    rng = random.Random(1)
    assert [backoff_delay(policy, n, rng) for n in (1, 2, 3, 4)] == [1, 2, 3, 3]


async def test_connection_errors_and_timeouts_are_retried_then_reported() -> None:
    """A timeout on every attempt ends as an error of category timeout with all attempts."""
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ConnectError("refused", request=request)
        raise httpx.ReadTimeout("too slow", request=request)

    text = suite(case("a", more="    retries: {count: 2, backoff: 0}\n"))
    (result,) = (await run(text, handler)).results
    assert result.status is Status.ERROR
    assert result.error_category is ErrorCategory.TIMEOUT
    assert [a.error_category for a in result.attempts] == [
        ErrorCategory.CONNECTION,
        ErrorCategory.TIMEOUT,
        ErrorCategory.TIMEOUT,
    ]
    assert not result.passed_after_retry


async def test_the_per_test_timeout_reaches_httpx() -> None:
    """A test's timeout (else the suite default) is the request's httpx timeout."""
    seen: dict[str, Any] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen[request.url.path] = request.extensions["timeout"]["read"]
        return ok(request)

    text = suite(case("a", more="    timeout: 2.5\n"), case("b"), extra="defaults: {timeout: 9}\n")
    await run(text, handler)
    assert seen == {"/a": 2.5, "/b": 9}


# ------------------------------------------------------------------- redaction


async def test_secrets_and_tokens_never_reach_results() -> None:
    """Env secrets, tokens and secret captures are redacted in snapshots, captures and messages."""
    text = suite(
        "  - id: login\n"
        "    request: {method: POST, url: /login, json: {user: ann, pw: '{{ secrets.pw }}'}}\n"
        "    captures:\n"
        "      token: {path: $.access, as_token: main}\n"
        "      sid: {path: $.session, secret: true}\n"
        "      name: $.name\n",
        "  - id: me\n"
        "    request: {url: /me, headers: {X-Tok: '{{ shared_auth_tokens.main }}'}}\n"
        "    checks: {json: [{path: $.echo, value: nope}]}\n",
        extra="environments:\n  dev:\n    secrets: {pw: SHOP_PW}\n",
    )

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/login":
            return httpx.Response(
                200, json={"access": "tok-secret-1", "session": "sess-42x", "name": "Ann"}
            )
        return httpx.Response(200, json={"echo": f"{request.headers['x-tok']} sess-42x"})

    result = await run(text, handler, environ={"SHOP_PW": "pw-hunter22"})
    dumped = result.model_dump_json()
    for secret in ("pw-hunter22", "tok-secret-1", "sess-42x"):
        assert secret not in dumped
    login, me = result.results
    assert login.captured == {"token": REDACTED, "sid": REDACTED, "name": "Ann"}
    assert me.status is Status.FAILED
    assert me.message == f'$.echo: expected "nope" (eq), got "{REDACTED} {REDACTED}"'
    assert me.request is not None and me.request.headers["X-Tok"] == REDACTED
