"""An httpx transport that sends through aiohttp.

httpx stays the runner's HTTP API (requests, responses, redirects, cookies,
timeouts, ``httpx.MockTransport`` in tests); this module only replaces the layer
under it. httpcore's pool and h11 cost about 0.9 ms of CPU per request on the
benchmark box, aiohttp's C parser and connector about half that, and a loopback
run is CPU-bound on exactly that (docs/performance.md).

What it keeps from httpx's own transport:

* httpx decides everything above the wire: headers (aiohttp adds none of its own,
  not even a Content-Type), redirects (never followed here), cookies (aiohttp's jar
  is a ``DummyCookieJar``), decompression (aiohttp passes bodies through).
* Timeouts come from the request's ``timeout`` extension: pool and connect wait
  bound the connection, read bounds each read of the response. The attempt's
  total deadline and the body cap are not the transport's business: ``send``
  applies them the same way over either transport.
* A body not read to the end (cut at the cap, or cancelled at the deadline)
  closes its connection instead of returning it to the pool.
* Failures are httpx exceptions with the same meaning: a refused or unresolvable
  connection is ``ConnectError``, a connect timeout ``ConnectTimeout``, a read
  timeout ``ReadTimeout``, a connection dropped mid-response ``ReadError``, a
  malformed response ``RemoteProtocolError``. (The ``httpx-aiohttp`` package was
  considered: it reports a refused connection as ``ConnectTimeout`` and leaves
  aiohttp's cookie jar on, which would change what the runner records.)

HTTP/1.1 only, as the runner's httpcore transport is configured too.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx

# what the request may carry and aiohttp would otherwise add by itself
_NO_AUTO_HEADERS = frozenset({"Content-Type", "User-Agent", "Accept", "Accept-Encoding"})


def translate(exc: BaseException, request: httpx.Request) -> httpx.TransportError:
    """The httpx exception that means what the aiohttp (or asyncio) one does."""
    message = str(exc) or type(exc).__name__
    error: type[httpx.TransportError]
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        error = httpx.ConnectTimeout
    elif isinstance(exc, TimeoutError):  # SocketTimeoutError and other read waits
        error = httpx.ReadTimeout
    elif isinstance(exc, aiohttp.ClientConnectorError):
        error = httpx.ConnectError
    elif isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError | OSError):
        error = httpx.ReadError  # the connection broke after it was made
    elif isinstance(exc, aiohttp.InvalidURL):
        error = httpx.UnsupportedProtocol
    else:  # a response aiohttp could not parse, and anything else it raises
        error = httpx.RemoteProtocolError
    return error(message, request=request)


_FAILURES = (aiohttp.ClientError, TimeoutError, OSError)


class _ResponseBody(httpx.AsyncByteStream):
    """The response body as aiohttp reads it; errors become httpx ones."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request
        self._complete = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except _FAILURES as exc:
            raise translate(exc, self._request) from exc
        self._complete = True

    async def aclose(self) -> None:
        if self._complete:  # a body read to the end gives its connection back to the pool
            self._response.release()
        else:  # the rest of the body is never read: the connection cannot be reused
            self._response.close()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp session (made on the first request, inside the event loop)."""

    def __init__(
        self, *, tls: ssl.SSLContext, connections: int, keepalive_expiry: float = 5.0
    ) -> None:
        self._tls = tls
        self._connections = connections
        self._keepalive_expiry = keepalive_expiry
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            ssl=self._tls,
            limit=self._connections,
            keepalive_timeout=self._keepalive_expiry,
        )
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,
            skip_auto_headers=_NO_AUTO_HEADERS,
            timeout=aiohttp.ClientTimeout(total=None),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._session is None:
            self._session = self._open()
        wait: dict[str, Any] = request.extensions.get("timeout", {})
        body = await request.aread()
        try:
            response = await self._session.request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=body or None,
                allow_redirects=False,
                compress=None,
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=wait.get("pool"),
                    sock_connect=wait.get("connect"),
                    sock_read=wait.get("read"),
                ),
                server_hostname=request.extensions.get("sni_hostname"),
            )
        except _FAILURES as exc:
            raise translate(exc, request) from exc
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode("latin-1", "replace")
        return httpx.Response(
            status_code=response.status,
            headers=list(response.raw_headers),
            stream=_ResponseBody(response, request),
            request=request,
            extensions=extensions,
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
