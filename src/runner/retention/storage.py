"""A retention archive in a Supabase Storage bucket, through the Storage REST API.

``POST /storage/v1/object/<bucket>/<key>`` (``x-upsert: true``) writes an object and
``GET`` the same path reads it back, authenticated with the service-role key. The
key is sent as headers only and never appears in an error message.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx

from runner.retention.archive import ArchiveError


class StorageArchive:
    """An archive under ``prefix`` in a Storage bucket."""

    def __init__(
        self,
        supabase_url: str,
        service_role_key: str,
        bucket: str,
        *,
        prefix: str = "",
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if not bucket or "/" in bucket:
            raise ArchiveError(f"invalid Storage bucket name {bucket!r}")
        self._base = supabase_url.rstrip("/") + "/storage/v1/object"
        self._bucket = bucket
        self._prefix = prefix.strip("/")
        self._headers = {"Authorization": f"Bearer {service_role_key}", "apikey": service_role_key}
        self._client = client
        self._own_client = client is None

    @property
    def location(self) -> str:
        """``storage://<bucket>/<prefix>``."""
        return f"storage://{self._bucket}/{self._prefix}".rstrip("/")

    def _url(self, key: str) -> str:
        full = f"{self._prefix}/{key.strip('/')}" if self._prefix else key.strip("/")
        return f"{self._base}/{quote(self._bucket)}/{quote(full)}"

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=60.0)
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP client if this archive created it."""
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def put(self, key: str, data: bytes) -> None:
        """Upload (or replace) one object."""
        content_type = "application/json" if key.endswith(".json") else "application/gzip"
        try:
            response = await self._http().post(
                self._url(key),
                content=data,
                headers={**self._headers, "x-upsert": "true", "Content-Type": content_type},
            )
        except httpx.HTTPError as exc:
            raise ArchiveError(
                f"cannot upload {key} to {self.location}: {type(exc).__name__}"
            ) from None
        if response.status_code >= 300:
            raise ArchiveError(
                f"cannot upload {key} to {self.location}: HTTP {response.status_code}"
                f"{_reason(response)}"
            )

    async def get(self, key: str) -> bytes:
        """Download one object."""
        try:
            response = await self._http().get(self._url(key), headers=self._headers)
        except httpx.HTTPError as exc:
            raise ArchiveError(
                f"cannot download {key} from {self.location}: {type(exc).__name__}"
            ) from None
        if response.status_code in (400, 404):
            raise ArchiveError(f"archive object {key} is missing in {self.location}")
        if response.status_code >= 300:
            raise ArchiveError(
                f"cannot download {key} from {self.location}: HTTP {response.status_code}"
                f"{_reason(response)}"
            )
        return response.content


def _reason(response: httpx.Response) -> str:
    """Storage's one-line error message, if it sent one (it never echoes the key)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        message = body.get("message") or body.get("error")
        if isinstance(message, str) and message:
            return f" ({message.splitlines()[0][:200]})"
    return ""
