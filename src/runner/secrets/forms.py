"""Every form a secret value takes on its way out of the runner.

A secret is rarely sent or logged as typed. A password with a space is sent as
``pw%20x`` in a path and ``pw+x`` in a form; a JSON body carries ``x\\"y`` for
``x"y`` and ``\\u00fc`` for ``ü``; Basic auth and JWTs carry it base64-encoded
inside a larger blob; the HTML report escapes ``&`` and quotes. ``forms_of``
lists all of these once, when the secret is registered, so that the redactor can
find any of them in one pass over a text.

Base64 is not local: the encoding of a secret inside a blob depends on its byte
offset modulo 3 and on the bytes around it. For each offset (0, 1, 2) only the
characters that depend on the secret's bytes alone are registered (the *stable
inner part*): at most 4 bits at each end stay visible. A base64 form shorter than
``MIN_BASE64_FORM`` characters is not registered at all, so short secrets cannot
punch holes in unrelated base64 (images, other tokens).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from html import escape as html_escape
from urllib.parse import quote, quote_plus

MIN_SECRET_LENGTH = 3
"""Shorter values are not treated as secrets: replacing every ``1`` or ``ab`` in a
report would garble it while hiding next to nothing."""

MIN_BASE64_FORM = 8
"""Base64 forms shorter than this (secrets under 6 bytes) are not registered. A
fragment of 8 characters is 48 bits: it turns up by chance in random base64 about
once in 2.8e14 positions, where a 4-character one would hit a 1 MB image about
once in 16 bodies."""

_URL_SAFE_SETS = ("", "/", "!$&'()*+,;=:@/", "!$'()*+,;:@/?")
"""``quote``'s ``safe`` characters as clients use them: everything encoded, the
default (``/`` kept), RFC 3986 path characters (httpx, browsers keep sub-delims,
``:`` and ``@``), and query characters (sub-delims less ``&`` and ``=``)."""

_PERCENT_HEX = re.compile(r"%[0-9A-F]{2}")
_UNICODE_HEX = re.compile(r"\\u[0-9a-f]{4}")


def forms_of(secret: str) -> frozenset[str]:
    """Every encoded form of ``secret`` worth redacting, the raw value included."""
    data = secret.encode("utf-8", "surrogatepass")
    ascii_json = json.dumps(secret)[1:-1]  # Python's default, and what PHP sends ...
    plain_json = json.dumps(secret, ensure_ascii=False)[1:-1]  # ... and JavaScript's
    forms: set[str] = {secret, ascii_json, plain_json}
    forms |= {f.replace("/", "\\/") for f in forms}  # PHP and some Java escape slashes
    forms |= _upper_unicode_hex(forms)  # Java and .NET write \u00FC
    forms |= {json.dumps(f)[1:-1] for f in (ascii_json, plain_json)}  # JSON stored in JSON
    forms |= _url_forms(data)
    forms |= _html_forms((secret, ascii_json, plain_json))
    forms |= _unicode_forms(secret)
    # Basic auth carries the raw value; a JWT payload or a JSON body sent as base64
    # carries the JSON-escaped one
    sources = {secret, ascii_json, plain_json, ascii_json.replace("/", "\\/")}
    for source in sources:
        forms |= _base64_forms(source.encode("utf-8", "surrogatepass"))
    return frozenset(f for f in forms if len(f) >= MIN_SECRET_LENGTH)


def _url_forms(data: bytes) -> set[str]:
    """Percent-encodings for path, query and form bodies, upper and lower case hex."""
    forms = {quote(data, safe=safe) for safe in _URL_SAFE_SETS}
    forms |= {quote_plus(data, safe=safe) for safe in ("", "/")}
    forms.add(quote(quote(data, safe=""), safe=""))  # a URL inside a query parameter
    forms |= {_PERCENT_HEX.sub(lambda m: m.group().lower(), f) for f in forms}
    return forms


def _html_forms(texts: Iterable[str]) -> set[str]:
    """``html.escape`` with and without quotes, and Jinja's (MarkupSafe's) escape."""
    forms: set[str] = set()
    for text in texts:
        forms.add(html_escape(text))
        forms.add(html_escape(text, quote=False))
        forms.add(html_escape(text, quote=False).replace('"', "&#34;").replace("'", "&#39;"))
    return forms


def _unicode_forms(secret: str) -> set[str]:
    """Python's ``unicode_escape`` and ``ascii()``, and non-ASCII as ``\\uXXXX`` alone."""
    forms = {secret.encode("unicode_escape").decode("ascii"), ascii(secret)[1:-1]}
    utf16 = secret.encode("utf-16-be", "surrogatepass")
    units = [int.from_bytes(utf16[i : i + 2], "big") for i in range(0, len(utf16), 2)]
    forms.add("".join(chr(u) if u < 128 else f"\\u{u:04x}" for u in units))
    return forms | _upper_unicode_hex(forms)


def _upper_unicode_hex(forms: Iterable[str]) -> set[str]:
    """The same ``\\uXXXX`` escapes with upper-case hex digits (Java, .NET)."""
    return {_UNICODE_HEX.sub(_upper_hex, f) for f in forms}


def _upper_hex(match: re.Match[str]) -> str:
    return "\\u" + match.group()[2:].upper()


def _base64_forms(data: bytes) -> set[str]:
    """Standalone and embedded base64 and base64url forms of ``data``.

    Standalone: the whole encoding, with and without ``=`` padding. Embedded: for
    each offset of ``data`` in a larger blob (0, 1 or 2 bytes mod 3), the run of
    characters that encode ``data``'s bits only, whatever comes before or after.
    """
    forms: set[str] = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(data).decode("ascii")
        forms |= {whole, whole.rstrip("=")}
        for offset in range(3):
            coded = encode(bytes(offset) + data).decode("ascii")
            first = -(-offset * 8 // 6)  # the first character with no bit of the prefix
            last = (offset + len(data)) * 8 // 6  # past the last with no bit of what follows
            forms.add(coded[first:last])
    return {f for f in forms if len(f) >= MIN_BASE64_FORM}
