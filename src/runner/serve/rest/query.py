"""The raw query string of a ``/rest/v1`` request, decoded strictly.

Starlette decodes leniently: a stray ``%`` stays literal, bytes that are not UTF-8
become U+FFFD, and a NUL byte passes through to the driver, which refuses it with
its own message (a 500 before this module). PostgREST answers such input with a
4xx; so does this: a malformed escape is PGRST100, a byte Postgres cannot store in
text (NUL, or not UTF-8) is 22021, Postgres's own code for it, and the error never
carries driver text.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from runner.serve.rest.errors import ApiError

# a ``%`` not followed by two hex digits
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
# longest query string accepted, in bytes (PostgREST's server caps the request line too)
MAX_QUERY_BYTES = 64 * 1024


def query_pairs(raw: bytes) -> list[tuple[str, str]]:
    """The ``(key, value)`` pairs of a raw query string, or a PostgREST-shaped 4xx."""
    if len(raw) > MAX_QUERY_BYTES:
        raise ApiError(
            414, "PGRST100", "failed to parse query string", details="the query string is too long"
        )
    pairs: list[tuple[str, str]] = []
    for part in raw.split(b"&"):
        if not part:
            continue
        key, _, value = part.partition(b"=")
        pairs.append((_decode(key, "name"), _decode(value, "value")))
    return pairs


def _decode(raw: bytes, what: str) -> str:
    if _BAD_ESCAPE.search(raw):
        raise ApiError(
            400,
            "PGRST100",
            "failed to parse query string",
            details=f"a parameter {what} has a '%' that is not followed by two hex digits",
        )
    data = unquote_to_bytes(raw.replace(b"+", b" "))
    if b"\x00" in data:
        raise _bad_byte("0x00")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad_byte(f"0x{data[exc.start]:02x}") from None


def _bad_byte(byte: str) -> ApiError:
    return ApiError(400, "22021", f'invalid byte sequence for encoding "UTF8": {byte}')
