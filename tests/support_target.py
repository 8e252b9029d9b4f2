"""A fast local HTTP/1.1 API for runs of thousands of tests (plain asyncio, own thread).

``POST /login`` gives ``{"token": "tok"}``; ``GET /items/<n>`` gives ``{"id": n}``
after ``delay`` seconds (``401`` without ``Authorization: Bearer tok``). Items in
``flaky`` answer ``503`` the first time they are asked. Keep-alive, 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterable
from types import TracebackType


class FastTarget:
    """``with FastTarget() as target:`` serves on ``target.url`` until the block ends."""

    def __init__(self, delay: float = 0.0, flaky: Iterable[int] = ()) -> None:
        self.delay = delay
        self.flaky = set(flaky)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fast-target", daemon=True)
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FastTarget:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fast target did not start")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._connection, "127.0.0.1", 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        self._server.close()

    def answer(self, method: str, path: str, auth: str) -> tuple[int, dict[str, object]]:
        if path == "/login" and method == "POST":
            return 200, {"token": "tok"}
        if path.startswith("/items/") and method == "GET":
            if auth != "Bearer tok":
                return 401, {"error": "unauthorized"}
            number = int(path.removeprefix("/items/"))
            if number in self.flaky:
                self.flaky.discard(number)
                return 503, {"error": "try again"}
            return 200, {"id": number}
        return 404, {"error": "not found"}

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                length = int(headers.get("content-length", "0"))
                if length:
                    await reader.readexactly(length)
                status, body = self.answer(method, path, headers.get("authorization", ""))
                if self.delay and path.startswith("/items/"):
                    await asyncio.sleep(self.delay)
                payload = json.dumps(body).encode()
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
