"""Starting, health-checking, reusing and stopping the services a suite needs."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

import httpx
import pytest

from runner.errors import EXIT_SERVICE, ServiceError
from runner.execute.processes import build_command, run_services
from runner.models import Service
from support import free_port

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _shop_service(port: int, **extra: object) -> Service:
    return Service.model_validate(
        {
            "name": "shop-api",
            "command": ["{python}", "shop_api.py", "--port", str(port)],
            "cwd": ".",
            "url": f"http://127.0.0.1:{port}/health",
            "timeout": 20,
            **extra,
        }
    )


def _logs(directory: Path, service: str) -> list[Path]:
    return sorted(directory.glob(f"runner-service-{service}-*.log"))


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_build_command_splits_strings_and_fills_in_python() -> None:
    """A string command is shell-split, and {python} becomes this interpreter."""
    assert build_command("{python} -m http.server 'a b'") == [
        sys.executable,
        "-m",
        "http.server",
        "a b",
    ]
    assert build_command(["{python}", "x.py"]) == [sys.executable, "x.py"]


async def test_starts_the_demo_api_and_stops_it_after_the_block() -> None:
    """The demo API answers /health inside the block; afterwards its process is gone."""
    port = free_port()
    service = _shop_service(port)
    async with run_services([service], base_dir=EXAMPLES) as running:
        [started] = running
        assert not started.reused and started.pid is not None
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{port}/health")
        assert response.json()["status"] == "ok"
        log_path = started.log_path
    assert started.process is not None and started.process.returncode is not None
    assert _gone(started.pid)
    assert log_path is not None and not log_path.exists()  # logs of healthy runs are removed
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{port}/health")


async def test_an_already_running_url_is_reused() -> None:
    """A URL that already answers is reused: the second service's command never runs."""
    port = free_port()
    would_fail = Service(
        name="second-copy",
        command=["{python}", "-c", "import sys; sys.exit(1)"],
        url=f"http://127.0.0.1:{port}/health",
        timeout=5,
    )
    async with run_services([_shop_service(port)], base_dir=EXAMPLES) as outer:
        async with run_services([would_fail], base_dir=EXAMPLES) as inner:
            assert inner[0].reused and inner[0].pid is None
        # leaving the inner block must not stop the service it did not start
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"http://127.0.0.1:{port}/health")).status_code == 200
        assert outer[0].process is not None and outer[0].process.returncode is None


async def test_a_command_that_exits_at_once_is_a_service_error(tmp_path: Path) -> None:
    """An early exit is a ServiceError naming the service, exit code, output and kept log."""
    service = Service(
        name="broken-api",
        command="{python} -c \"import os, sys; print('boom:', os.environ['FLAG']); sys.exit(3)\"",
        url=f"http://127.0.0.1:{free_port()}/health",
        timeout=20,
        env={"FLAG": "from-service-env"},
    )
    with pytest.raises(ServiceError) as caught:
        async with run_services([service], base_dir=tmp_path, log_dir=tmp_path):
            pytest.fail("the block must not run")
    message = str(caught.value)
    assert "'broken-api'" in message and service.url in message  # type: ignore[operator]
    assert "exited with code 3" in message
    assert "boom: from-service-env" in message
    assert "\n" not in message
    assert caught.value.exit_code == EXIT_SERVICE
    [kept] = _logs(tmp_path, "broken-api")  # a failed service's log stays
    assert str(kept) in message and "boom" in kept.read_text()


async def test_environ_reaches_the_service_under_its_own_env(tmp_path: Path) -> None:
    """The caller's environ is passed on, and the service's env wins over it."""
    script = "import os, sys; print(os.environ['A'], os.environ['B']); sys.exit(1)"
    service = Service(
        name="env-check",
        command=["{python}", "-c", script],
        url=f"http://127.0.0.1:{free_port()}/",
        env={"B": "svc"},
    )
    with pytest.raises(ServiceError, match="from-caller svc"):
        async with run_services(
            [service],
            base_dir=tmp_path,
            log_dir=tmp_path,
            environ={"A": "from-caller", "B": "caller"},
        ):
            pass


async def test_a_url_that_never_answers_times_out_and_stops_the_process(
    tmp_path: Path,
) -> None:
    """A service that never answers is a ServiceError after its timeout, and is stopped."""
    pid_file = tmp_path / "pid"
    # -S skips site imports so the child writes its pid well within the timeout.
    script = (
        f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    )
    service = Service(
        name="silent",
        command=["{python}", "-S", "-c", script],
        url=f"http://127.0.0.1:{free_port()}/health",
        timeout=1.0,
    )
    loop = asyncio.get_running_loop()
    began = loop.time()
    with pytest.raises(ServiceError) as caught:
        async with run_services([service], base_dir=tmp_path, log_dir=tmp_path):
            pytest.fail("the block must not run")
    assert loop.time() - began >= 1.0
    message = str(caught.value)
    assert "'silent'" in message and "not healthy within 1s" in message
    assert "ConnectError" in message
    assert _gone(int(pid_file.read_text()))


async def test_services_stop_when_the_block_raises() -> None:
    """An exception inside the block still stops the services, and propagates."""
    port = free_port()
    with pytest.raises(RuntimeError, match="test body failed"):
        async with run_services([_shop_service(port)], base_dir=EXAMPLES) as running:
            pid = running[0].pid
            raise RuntimeError("test body failed")
    assert pid is not None and _gone(pid)


async def test_services_stop_when_the_task_is_cancelled() -> None:
    """Cancelling the task that holds the block stops the services."""
    port = free_port()
    up = asyncio.Event()
    pids: list[int | None] = []

    async def hold() -> None:
        async with run_services([_shop_service(port)], base_dir=EXAMPLES) as running:
            pids.append(running[0].pid)
            up.set()
            await asyncio.Event().wait()  # until cancelled

    task = asyncio.create_task(hold())
    await up.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert pids[0] is not None and _gone(pids[0])


async def test_services_stop_in_reverse_order(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Services start in the given order and stop in the reverse one."""
    sleeper = ["{python}", "-S", "-c", "import time; time.sleep(60)"]
    services = [Service(name=n, command=sleeper) for n in ("first", "second", "third")]
    caplog.set_level(logging.INFO, logger="runner.execute.processes")
    async with run_services(services, base_dir=tmp_path, log_dir=tmp_path) as running:
        assert [s.name for s in running] == ["first", "second", "third"]
    stopped = [
        r.getMessage().split()[2] for r in caplog.records if r.getMessage().startswith("stopped")
    ]
    assert stopped == ["third", "second", "first"]
    assert all(s.pid is not None and _gone(s.pid) for s in running)


async def test_a_missing_program_is_a_service_error(tmp_path: Path) -> None:
    """A command that cannot be executed is a ServiceError naming the service."""
    service = Service(
        name="ghost", command=["./no-such-program"], url=f"http://127.0.0.1:{free_port()}/"
    )
    with pytest.raises(ServiceError, match="'ghost' could not start"):
        async with run_services([service], base_dir=tmp_path, log_dir=tmp_path):
            pass
