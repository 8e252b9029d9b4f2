"""HTTP headers of a PostgREST request: ``Prefer``, ``Accept``, ``Range``; ``Content-Range``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from starlette.requests import Request

from runner.serve.rest.errors import ApiError

JSON = "application/json"
OBJECT = "application/vnd.pgrst.object+json"
ARRAY = "application/vnd.pgrst.array+json"
_RANGE = re.compile(r"^(?:items=)?\s*(\d+)-(\d*)\s*$")


@dataclass(frozen=True)
class Prefer:
    """The ``Prefer`` preferences this server honours."""

    returning: str | None = None  # minimal | headers-only | representation
    count: bool = False
    resolution: str | None = None  # merge | ignore
    missing_default: bool = False
    applied: tuple[str, ...] = field(default=())


def prefer(request: Request) -> Prefer:
    """Parse every ``Prefer`` header (comma-separated ``key=value`` items)."""
    returning: str | None = None
    count = False
    resolution: str | None = None
    missing_default = False
    applied: list[str] = []
    for header in request.headers.getlist("prefer"):
        for item in header.split(","):
            key, _, value = item.strip().partition("=")
            key, value = key.strip().lower(), value.strip().lower()
            if key == "return" and value in ("minimal", "headers-only", "representation"):
                returning = value
            elif key == "count" and value in ("exact", "planned", "estimated"):
                count = True
            elif key == "resolution" and value in ("merge-duplicates", "ignore-duplicates"):
                resolution = value.removesuffix("-duplicates")
            elif key == "missing" and value == "default":
                missing_default = True
            else:
                continue
            applied.append(f"{key}={value}")
    return Prefer(returning, count, resolution, missing_default, tuple(applied))


@dataclass(frozen=True)
class Accept:
    """What the client wants back: an array (default) or one object, nulls kept or not."""

    single: bool
    strip_nulls: bool

    @property
    def media_type(self) -> str:
        base = OBJECT if self.single else JSON
        return f"{base}; charset=utf-8"


def accept(request: Request) -> Accept:
    """Parse ``Accept``; 406 PGRST107 for a media type this server cannot produce."""
    header = request.headers.get("accept", "")
    if not header.strip():
        return Accept(single=False, strip_nulls=False)
    for entry in header.split(","):
        media, *params = (part.strip() for part in entry.split(";"))
        media = media.lower()
        stripped = any(p.replace(" ", "").lower() == "nulls=stripped" for p in params)
        if media == OBJECT:
            return Accept(single=True, strip_nulls=stripped)
        if media == ARRAY:
            return Accept(single=False, strip_nulls=stripped)
        if media in (JSON, "*/*", "application/*", "text/*"):
            return Accept(single=False, strip_nulls=False)
    raise ApiError(
        406,
        "PGRST107",
        "None of these media types are available: " + header,
    )


def check_profile(request: Request) -> None:
    """Only schema ``public`` is exposed: another ``Accept-Profile``/``Content-Profile`` is 406."""
    for header in ("accept-profile", "content-profile"):
        schema = request.headers.get(header)
        if schema is not None and schema.strip() != "public":
            raise ApiError(
                406,
                "PGRST106",
                "The schema must be one of the following: public",
                details=f"schema {schema.strip()!r} is not exposed",
            )


def range_header(request: Request) -> tuple[int, int | None] | None:
    """``Range: [items=]0-9`` -> (offset, limit); 416 PGRST103 when malformed."""
    raw = request.headers.get("range")
    if not raw:
        return None
    match = _RANGE.match(raw)
    if not match:
        raise ApiError(416, "PGRST103", "Requested range not satisfiable")
    start = int(match.group(1))
    if not match.group(2):
        return start, None
    end = int(match.group(2))
    if end < start:
        raise ApiError(416, "PGRST103", "Requested range not satisfiable")
    return start, end - start + 1


def content_range(offset: int, rows: int, total: int | None) -> str:
    """``0-9/100``, ``0-9/*``, or ``*/100`` when no row is returned."""
    of = "*" if total is None else str(total)
    if rows <= 0:
        return f"*/{of}"
    return f"{offset}-{offset + rows - 1}/{of}"
