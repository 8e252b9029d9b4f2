"""Redaction of a secret in every form it takes on the way out (issue #15, item 1).

The encodings are produced here with the standard library, httpx, PyJWT and
MarkupSafe, independently of ``runner.secrets.forms``, so these tests check what
clients and templates really write.
"""

from __future__ import annotations

import base64
import html
import json
import random
import re
from collections.abc import Callable
from urllib.parse import quote, quote_plus, unquote, unquote_plus

import httpx
import jwt
import markupsafe
import pytest

from runner.secrets.forms import MIN_BASE64_FORM, forms_of
from runner.secrets.matcher import Matcher
from runner.secrets.redact import REDACTED, Redactor

CANARY = 'CANARY spc/x"y+z&ü-7Q'
"""A space, a quote, a slash, a plus, an ampersand and a non-ASCII character."""


def _b64(text: str, encode: Callable[[bytes], bytes] = base64.b64encode) -> str:
    return encode(text.encode()).decode()


def _u_escape(text: str) -> str:
    return "".join(c if ord(c) < 128 else f"\\u{ord(c):04x}" for c in text)


ENCODINGS: dict[str, Callable[[str], str]] = {
    "raw": lambda s: s,
    "quote safe=''": lambda s: quote(s, safe=""),
    "quote safe='/'": quote,
    "quote lower-case hex": lambda s: re.sub("%..", lambda m: m[0].lower(), quote(s, safe="")),
    "quote_plus": quote_plus,
    "quote_plus safe='/'": lambda s: quote_plus(s, safe="/"),
    "double quote": lambda s: quote(quote(s, safe=""), safe=""),
    "httpx path": lambda s: httpx.URL(f"http://h/{s}").raw_path.decode()[1:],
    "httpx query": lambda s: str(httpx.URL("http://h/", params={"q": s})).split("q=", 1)[1],
    "json ascii": lambda s: json.dumps(s)[1:-1],
    "json utf-8": lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
    "json escaped slash": lambda s: json.dumps(s)[1:-1].replace("/", "\\/"),
    "json upper-case hex": lambda s: json.dumps(s)[1:-1].replace("\\u00fc", "\\u00FC"),
    "json in json": lambda s: json.dumps(json.dumps(s)[1:-1])[1:-1],
    "html.escape": html.escape,
    "html.escape quote=False": lambda s: html.escape(s, quote=False),
    "markupsafe": lambda s: str(markupsafe.escape(s)),
    "html of json": lambda s: html.escape(json.dumps(s)[1:-1]),
    "unicode_escape": lambda s: s.encode("unicode_escape").decode(),
    "ascii()": lambda s: ascii(s)[1:-1],
    "\\u escapes": _u_escape,
    "base64": _b64,
    "base64 unpadded": lambda s: _b64(s).rstrip("="),
    "base64url": lambda s: _b64(s, base64.urlsafe_b64encode),
    "base64url unpadded": lambda s: _b64(s, base64.urlsafe_b64encode).rstrip("="),
    "base64 of json": lambda s: _b64(json.dumps(s)[1:-1]),
}


def _no_trace(out: str, secret: str = CANARY) -> bool:
    """True when no decoding of ``out`` shows the secret, or a large piece of it."""
    core = secret[2:-2]
    views = [out, unquote(out), unquote_plus(out), html.unescape(out)]
    views += [json.loads(f'"{v}"') for v in views if _json_string(v)]
    return all(core not in view for view in views)


def _json_string(text: str) -> bool:
    try:
        json.loads(f'"{text}"')
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("encoding", ENCODINGS, ids=list(ENCODINGS))
def test_each_encoding_is_redacted_in_text_json_headers_and_urls(encoding: str) -> None:
    """The canary in each listed encoding is replaced whole in text, JSON, a header and a URL."""
    form = ENCODINGS[encoding](CANARY)
    assert form != CANARY or encoding == "raw"
    redactor = Redactor([CANARY])
    assert redactor.text(f"seen {form} here") == f"seen {REDACTED} here"
    body = f'{{"note": "{form}", "n": 1}}'
    assert redactor.body_text(body) == f'{{"note": "{REDACTED}", "n": 1}}'
    assert redactor.headers([("X-Echo", f"v={form};")]) == {"X-Echo": f"v={REDACTED};"}
    url = redactor.url(f"https://api.test/items/{form}?q={form}&page=2")
    assert url == f"https://api.test/items/{REDACTED}?q={REDACTED}&page=2"
    assert _no_trace(url)


def test_urls_built_by_httpx_are_redacted() -> None:
    """A secret in an httpx-built path and query (as sent and as logged) leaves no trace."""
    redactor = Redactor([CANARY])
    url = httpx.URL(f"https://api.test/users/{CANARY}/x", params={"key": CANARY, "page": 2})
    out = redactor.url(str(url))
    assert out.count(REDACTED) == 2 and _no_trace(out)
    assert out.startswith("https://api.test/users/") and out.endswith("&page=2")


def test_nested_structures_in_every_text_form() -> None:
    """Forms of a secret inside nested JSON values are replaced, keys and shape kept."""
    redactor = Redactor([CANARY])
    data = {"a": [{"b": quote_plus(CANARY)}, _b64(CANARY)], "c": {"d": html.escape(CANARY)}}
    assert redactor.value(data) == {"a": [{"b": REDACTED}, REDACTED], "c": {"d": REDACTED}}


@pytest.mark.parametrize("user", ["", "u", "ab", "bob", "user", "admin"])
def test_basic_auth_of_user_and_secret_is_redacted(user: str) -> None:
    """base64("user:secret") loses the secret's bytes whatever the user name's length."""
    redactor = Redactor([CANARY])
    blob = _b64(f"{user}:{CANARY}")
    out = redactor.text(f"Authorization: Basic {blob}")
    assert REDACTED in out
    left = out.removeprefix("Authorization: Basic ").replace(REDACTED, "")
    # only the user's characters and at most one partial character at each end remain
    assert len(left) <= len(_b64(f"{user}:").rstrip("=")) + 1 + 3


def test_secret_as_basic_auth_user_name_is_redacted() -> None:
    """base64("secret:password") hides the secret at offset 0 too."""
    redactor = Redactor([CANARY])
    out = redactor.text(_b64(f"{CANARY}:pw"))
    # what remains: one partial character, then ":pw" and its padding
    assert out.startswith(REDACTED) and len(out.replace(REDACTED, "")) <= 1 + 4 + 2


@pytest.mark.parametrize("pad", ["", "x", "xy"])
def test_jwt_whose_payload_carries_the_secret(pad: str) -> None:
    """A JWT (PyJWT) whose payload holds the secret shows none of it, at any byte offset."""
    token = jwt.encode({"pad": pad, "pw": CANARY, "sub": "u1"}, "k" * 32, algorithm="HS256")
    redactor = Redactor([CANARY])
    out = redactor.text(f"Bearer {token}")
    header, payload, signature = out.removeprefix("Bearer ").split(".")
    assert REDACTED in payload
    assert (header, signature) == tuple(token.split(".")[::2])
    for piece in payload.split(REDACTED):
        decoded = base64.urlsafe_b64decode(piece[: len(piece) // 4 * 4] + "==")
        assert b"CANARY" not in decoded and b"zu" not in decoded


def test_jwt_that_is_itself_the_secret() -> None:
    """A captured token registered as a secret is redacted as sent and base64-wrapped."""
    token = jwt.encode({"sub": "u1", "n": 7}, "k" * 32, algorithm="HS256")
    redactor = Redactor([token])
    assert redactor.text(f"Bearer {token}") == f"Bearer {REDACTED}"
    assert redactor.text(_b64(f"Bearer {token}")).count(REDACTED) == 1


def test_overlapping_secrets_leave_no_piece_of_either() -> None:
    """Two secrets whose occurrences overlap are covered by one marker, no piece left over."""
    redactor = Redactor(["secret-one-xx", "xx-secret-two"])
    assert redactor.text("a secret-one-xx-secret-two b") == f"a {REDACTED} b"
    assert redactor.text("secret-one-xxsecret-one-xx") == REDACTED * 2


def test_short_values_are_not_redacted_and_short_secrets_get_no_base64_form() -> None:
    """Values under 3 characters are ignored; base64 forms under 8 characters are not kept."""
    redactor = Redactor(["ab", "abc", "abcd", "abcde"])
    assert redactor.values == frozenset({"abc", "abcd", "abcde"})
    blob = "data:image/png;base64,YWJjZGVmZ2hpamtsbW5vcA=="  # base64 of "abcdefghijklmnop"
    assert redactor.text(blob) == blob
    assert redactor.text("a ab b") == "a ab b"
    for secret in ("abc", "abcdef", CANARY):
        for form in forms_of(secret) - {secret}:
            if form.isalnum():  # the base64 forms of an ASCII secret
                assert len(form) >= MIN_BASE64_FORM


def test_random_base64_is_not_over_redacted() -> None:
    """100 registered secrets find nothing in 256 KB of unrelated random base64."""
    rng = random.Random(15)
    secrets = [
        "".join(rng.choices("abcdefghijkmnopqrstuvwxyz0123456789", k=12)) for _ in range(100)
    ]
    secrets += ["pw é/+" + s for s in secrets[:20]]
    redactor = Redactor(secrets)
    blob = base64.b64encode(rng.randbytes(192 * 1024)).decode()
    assert redactor.text(blob) == blob


def test_redaction_is_deterministic_whatever_the_order_of_learning() -> None:
    """The same secrets, learned at once or one by one between scans, redact identically."""
    rng = random.Random(7)
    secrets = [f"s{n}-{rng.randrange(10**9)}-ü/{n}" for n in range(150)]
    text = " | ".join(
        f"{quote_plus(s)} {_b64('u:' + s)} {json.dumps(s)} plain-{n}" for n, s in enumerate(secrets)
    )
    at_once = Redactor(secrets).text(text)
    learning = Redactor()
    for secret in reversed(secrets):
        learning.add(secret)
        learning.text("a message after each registration")
    assert learning.text(text) == at_once
    assert at_once == Redactor(secrets).text(text)
    assert forms_of(CANARY) == forms_of(CANARY)
    assert "plain-149" in at_once and all(s not in at_once for s in secrets)


def test_secrets_lists_every_form_and_values_the_registered_ones() -> None:
    """``secrets`` holds the forms matched, ``values`` the values as given."""
    redactor = Redactor([CANARY, 12345])
    assert redactor.values == frozenset({CANARY, "12345"})
    assert {CANARY, quote_plus(CANARY), json.dumps(CANARY)[1:-1]} <= redactor.secrets


def test_text_with_a_lone_surrogate_is_still_redacted() -> None:
    """A string that cannot be encoded as UTF-8 (a lone surrogate) is still scanned."""
    redactor = Redactor([CANARY])
    assert redactor.text(f"\ud800 {CANARY} \udfff") == f"\ud800 {REDACTED} \udfff"


def test_matcher_learning_one_string_at_a_time_keeps_few_automata() -> None:
    """1,000 strings learned between scans leave O(log N) automata; a long text merges them."""
    matcher = Matcher()
    for n in range(1_000):
        matcher.add([f"word-{n:04d}"])
        assert matcher.spans(f"x word-{n:04d} y") == [(2, 11)]
        assert matcher.automata <= 12
    long_text = "filler " * 2_000 + "word-0007 word-0999"
    assert matcher.spans(long_text)[-2:] == [(14_000, 14_009), (14_010, 14_019)]
    assert matcher.automata == 1
