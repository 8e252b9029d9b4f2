"""The peer benchmark's target API, answering every request after a fixed delay.

    python bench/latency_target.py [--port 8090] [--delay-ms 50]

Real APIs take tens of milliseconds per request; on loopback nginx answers in
~0.1 ms, which hides what a dependency graph buys (overlapping independent
chains). This server speaks the same endpoints and answers as
``shared/bench/target/nginx.conf`` (token ``Bearer tok-123``, ``/auth/login``,
``/catalog``, ``/items``, ``/items/<id>``), each after ``--delay-ms``, with
HTTP/1.1 keep-alive. ``GET /_bench/status`` answers at once in nginx's
``stub_status`` layout, so the peer driver's request counter works unchanged
(that request is not counted, as nginx counts it: the driver subtracts it).

Listens on 127.0.0.1 only. Plain asyncio streams: one process, no framework.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import uuid

_ITEM = re.compile(r"^/items/([A-Za-z0-9._~-]{1,128})$")
_REASONS = {200: "OK", 201: "Created", 204: "No Content", 401: "Unauthorized"}
_REASONS |= {404: "Not Found", 405: "Method Not Allowed", 400: "Bad Request"}


class Target:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.requests = 0
        self.active = 0

    def answer(self, method: str, path: str, auth: str) -> tuple[int, str]:
        """The status and JSON body nginx.conf gives for this request."""
        authed = auth == "Bearer tok-123"
        if path == "/auth/login":
            if method != "POST":
                return 405, '{"error":"method not allowed"}'
            return 200, '{"access_token":"tok-123","user_id":"user-1"}'
        if path == "/catalog":
            if not authed:
                return 401, '{"error":"unauthorized"}'
            if method != "GET":
                return 405, '{"error":"method not allowed"}'
            return 200, '{"products":[{"id":"prod-1"},{"id":"prod-2"}]}'
        if path == "/items":
            if not authed:
                return 401, '{"error":"unauthorized"}'
            if method == "POST":
                return 201, json.dumps({"id": uuid.uuid4().hex}, separators=(",", ":"))
            return 405, '{"error":"method not allowed"}'
        match = _ITEM.match(path)
        if match:
            item = match.group(1)
            if not authed:
                return 401, '{"error":"unauthorized"}'
            if method == "GET":
                return 200, json.dumps({"id": item, "name": "x"}, separators=(",", ":"))
            if method == "PUT":
                return 200, json.dumps({"id": item, "updated": True}, separators=(",", ":"))
            if method == "DELETE":
                return 204, ""
            return 405, '{"error":"method not allowed"}'
        return 404, '{"error":"not found"}'

    def status(self) -> str:
        n = self.requests
        return (
            f"Active connections: {self.active} \nserver accepts handled requests\n"
            f" {n} {n} {n} \nReading: 0 Writing: 1 Waiting: 0 \n"
        )

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.active += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                length = int(headers.get("content-length", "0") or 0)
                if length:
                    await reader.readexactly(length)
                self.requests += 1
                path = target.split("?", 1)[0]
                if path == "/_bench/status":
                    code, body, ctype = 200, self.status(), "text/plain"
                else:
                    await asyncio.sleep(self.delay)
                    code, body = self.answer(method, path, headers.get("authorization", ""))
                    ctype = "application/json"
                data = body.encode()
                out = f"HTTP/1.1 {code} {_REASONS.get(code, 'OK')}\r\nConnection: keep-alive\r\n"
                if code != 204:
                    out += f"Content-Type: {ctype}\r\nContent-Length: {len(data)}\r\n"
                writer.write(out.encode() + b"\r\n" + (data if code != 204 else b""))
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            self.active -= 1
            writer.close()


async def serve(port: int, delay: float) -> None:
    target = Target(delay)
    server = await asyncio.start_server(target.handle, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8090)
    ap.add_argument("--delay-ms", type=float, default=50.0)
    a = ap.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):  # SIGINT is how the driver stops it
        asyncio.run(serve(a.port, a.delay_ms / 1000))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
