"""``/rest/v1`` errors the clients raise on: unknown names, bad JWTs and keys, an outage."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import jwt
import pytest
from postgrest.exceptions import APIError
from supabase import acreate_client

from support_rest import service_client
from support_serve import JWT_SECRET, ServeHandle, serving


async def test_unknown_table_is_pgrst205_404(serve: ServeHandle) -> None:
    """A table not in the schema is 404 PGRST205 with a hint naming the closest table."""
    service = await service_client(serve)
    with pytest.raises(APIError) as missing:
        await service.table("organisations").select("*").execute()
    assert missing.value.code == "PGRST205"
    assert (
        missing.value.message
        == "Could not find the table 'public.organisations' in the schema cache"
    )
    assert missing.value.hint == "Perhaps you meant the table 'public.organizations'"


async def test_unknown_column_is_42703_400(serve: ServeHandle) -> None:
    """Selecting, filtering or ordering by a missing column is 400 42703."""
    service = await service_client(serve)
    for query in (
        service.table("organizations").select("nope"),
        service.table("organizations").select("*").eq("nope", 1),
        service.table("organizations").select("*").order("nope"),
    ):
        with pytest.raises(APIError) as missing:
            await query.execute()
        assert missing.value.code == "42703"
        assert missing.value.message == "column organizations.nope does not exist"


async def test_malformed_query_is_pgrst100(serve: ServeHandle) -> None:
    """An unknown operator is 400 PGRST100."""
    async with httpx.AsyncClient() as http:
        response = await http.get(
            f"{serve.url}/rest/v1/organizations",
            params={"slug": "between.a"},
            headers={"apikey": serve.service_role_key},
        )
    assert response.status_code == 400
    assert response.json()["code"] == "PGRST100"
    assert set(response.json()) == {"code", "details", "hint", "message"}


async def test_bad_and_expired_jwts_are_401(serve: ServeHandle) -> None:
    """A JWT signed with another secret is 401 PGRST301; an expired one 401 PGRST303."""
    forged = jwt.encode({"role": "service_role", "exp": int(time.time()) + 60}, "x" * 40)
    expired = jwt.encode({"role": "authenticated", "exp": int(time.time()) - 60}, JWT_SECRET)
    for token, code in ((forged, "PGRST301"), (expired, "PGRST303")):
        client = await acreate_client(serve.url, serve.anon_key)
        client.postgrest.auth(token)
        with pytest.raises(APIError) as refused:
            await client.table("organizations").select("*").execute()
        assert refused.value.code == code
    async with httpx.AsyncClient() as http:
        response = await http.get(
            f"{serve.url}/rest/v1/organizations",
            headers={"apikey": serve.anon_key, "Authorization": f"Bearer {expired}"},
        )
    assert response.status_code == 401 and response.json()["message"] == "JWT expired"
    assert "invalid_token" in response.headers["www-authenticate"]


async def test_missing_or_wrong_api_key_is_401(serve: ServeHandle) -> None:
    """No apikey header is 401 "No API key found in request"; a foreign key is "Invalid API key"."""
    async with httpx.AsyncClient() as http:
        missing = await http.get(f"{serve.url}/rest/v1/organizations")
        foreign = await http.get(
            f"{serve.url}/rest/v1/organizations",
            headers={"apikey": jwt.encode({"role": "anon", "exp": 9999999999}, "y" * 40)},
        )
    assert missing.status_code == 401
    assert missing.json()["message"] == "No API key found in request"
    assert foreign.status_code == 401 and foreign.json()["message"] == "Invalid API key"


async def test_cors_preflight_allows_the_client_headers(serve: ServeHandle) -> None:
    """A browser preflight for a PATCH with apikey, Prefer and Range is allowed."""
    async with httpx.AsyncClient() as http:
        response = await http.options(
            f"{serve.url}/rest/v1/organizations",
            headers={
                "Origin": "http://localhost:5173",
                "Access-Control-Request-Method": "PATCH",
                "Access-Control-Request-Headers": "apikey,authorization,prefer,range,content-type",
            },
        )
    assert response.status_code == 200
    assert "PATCH" in response.headers["access-control-allow-methods"]


class _Proxy:
    """A TCP proxy to Postgres that the test can cut and restore (the outage)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Refuse new connections and reset the open ones."""
        if self._listener is not None:
            # shutdown wakes the thread blocked in accept(); close alone would not
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def proxied_serve(migrated_db: str) -> Iterator[tuple[ServeHandle, _Proxy]]:
    """``serve`` whose database connections go through a proxy the test can cut."""
    host_port = migrated_db.rsplit("@", 1)[1].split("/", 1)[0]
    proxy = _Proxy(int(host_port.rsplit(":", 1)[1]))
    proxy.start()
    try:
        with serving(migrated_db.replace(host_port, f"127.0.0.1:{proxy.port}")) as handle:
            yield handle, proxy
    finally:
        proxy.cut()


async def test_database_outage_is_503_and_recovers(
    proxied_serve: tuple[ServeHandle, _Proxy],
) -> None:
    """With Postgres unreachable a request is 503 PostgREST-style; once back, the next works."""
    serve, proxy = proxied_serve
    headers = {"apikey": serve.service_role_key}
    url = f"{serve.url}/rest/v1/organizations"
    async with httpx.AsyncClient(timeout=30) as http:
        assert (await http.get(url, headers=headers)).status_code == 200
        proxy.cut()
        down = await http.get(url, headers=headers)
        assert down.status_code == 503
        assert set(down.json()) == {"code", "details", "hint", "message"}
        assert down.json()["code"] == "PGRST001"
        still_down = await http.get(url, headers=headers)
        assert still_down.status_code == 503
        auth_url = f"{serve.url}/auth/v1/admin/users"
        auth_headers = {**headers, "Authorization": f"Bearer {serve.service_role_key}"}
        auth_down = await http.get(auth_url, headers=auth_headers)
        assert auth_down.status_code == 503
        assert auth_down.json()["error_code"] == "unexpected_failure"
        proxy.start()
        back = await http.get(url, headers=headers)
        # only the default organisation, created by the migrations
        assert back.status_code == 200 and [o["slug"] for o in back.json()] == ["local"]
        auth_back = await http.get(auth_url, headers=auth_headers)
        assert auth_back.status_code == 200 and auth_back.json()["users"] == []
