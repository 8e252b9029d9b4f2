"""Redaction of secrets in snapshots, values and messages."""

from __future__ import annotations

import json

from runner.secrets.redact import REDACTED, Redactor, sensitive_key, truncate


def test_known_values_are_replaced_everywhere_in_text() -> None:
    """Every occurrence of every secret value is replaced, the longest first."""
    redactor = Redactor(["hunter22", "hunter22-extended"])
    text = "pw=hunter22 and hunter22-extended and hunter22"
    assert redactor.text(text) == f"pw={REDACTED} and {REDACTED} and {REDACTED}"


def test_values_learned_later_are_redacted_from_then_on() -> None:
    """Secrets added as they appear (tokens, secret captures) are redacted afterwards."""
    redactor = Redactor()
    assert redactor.text("Bearer tok-999") == "Bearer tok-999"
    redactor.add("tok-999")
    assert redactor.text("Bearer tok-999") == f"Bearer {REDACTED}"


def test_short_and_empty_values_are_not_secrets() -> None:
    """Values under three characters would garble every report, so they are ignored."""
    redactor = Redactor(["", "ab", None, True])
    assert redactor.secrets == frozenset()
    assert redactor.text("ab") == "ab"


def test_nested_json_values_and_credential_keys() -> None:
    """Secret values anywhere, and keys naming credentials, are redacted in nested JSON."""
    redactor = Redactor(["s3cr3t-value"])
    data = {
        "user": {"name": "ann", "Password": "plain", "note": "has s3cr3t-value inside"},
        "items": [{"api_key": 1}, {"apiKey": {"deep": 1}}, "s3cr3t-value"],
        "refresh_token": "x",
        "client-secret": "y",
        "ok": 1,
    }
    assert redactor.value(data) == {
        "user": {"name": "ann", "Password": REDACTED, "note": f"has {REDACTED} inside"},
        "items": [{"api_key": REDACTED}, {"apiKey": REDACTED}, REDACTED],
        "refresh_token": REDACTED,
        "client-secret": REDACTED,
        "ok": 1,
    }


def test_credential_headers_are_redacted_by_name() -> None:
    """Authorization, cookies, API keys and credential-named headers never show."""
    redactor = Redactor(["tok-123"])
    headers = [
        ("Authorization", "Bearer tok-123"),
        ("proxy-authorization", "x"),
        ("Cookie", "a=b"),
        ("set-cookie", "a=1"),
        ("set-cookie", "b=2"),
        ("X-API-Key", "k"),
        ("X-Auth-Token", "t"),
        ("X-Echo", "got tok-123"),
        ("Content-Type", "application/json"),
    ]
    assert redactor.headers(headers) == {
        "Authorization": REDACTED,
        "proxy-authorization": REDACTED,
        "Cookie": REDACTED,
        "set-cookie": f"{REDACTED}, {REDACTED}",
        "X-API-Key": REDACTED,
        "X-Auth-Token": REDACTED,
        "X-Echo": f"got {REDACTED}",
        "Content-Type": "application/json",
    }
    assert sensitive_key("x-api-key") and not sensitive_key("content-type")


def test_urls_lose_secret_values_and_credential_query_parameters() -> None:
    """Secret values (also percent-encoded) and ?token= style parameters are redacted."""
    redactor = Redactor(["p@ss word"])
    url = "http://t/x?api_key=abc&page=2&q=p%40ss%20word"
    assert redactor.url(url) == f"http://t/x?api_key={REDACTED}&page=2&q={REDACTED}"


def test_snapshots_are_redacted_then_truncated() -> None:
    """Snapshot bodies are redacted, then cut to body_limit bytes: no secret prefix leaks."""
    secret = "a-very-long-secret-value"
    redactor = Redactor([secret])
    body = json.dumps({"password": "x", "echo": secret, "pad": "z" * 100})
    snap = redactor.snapshot(
        method="POST",
        url="http://t/login",
        headers=[("Authorization", "Bearer x")],
        body=body,
        is_json=True,
        body_limit=40,
    )
    assert snap.truncated
    assert snap.body is not None and len(snap.body.encode()) <= 40
    assert secret[:5] not in snap.body
    assert snap.body.startswith('{"password": "[REDACTED]"')
    assert snap.headers == {"Authorization": REDACTED}


def test_snapshot_of_plain_text_body() -> None:
    """A text body only loses the known secret values."""
    redactor = Redactor(["hunter22"])
    snap = redactor.snapshot(status_code=500, body="token: hunter22", body_limit=100)
    assert snap.body == f"token: {REDACTED}"
    assert not snap.truncated


def test_truncate_never_splits_a_character() -> None:
    """Truncation counts UTF-8 bytes and drops a partial trailing character."""
    assert truncate("héllo", 2) == ("h", True)
    assert truncate("héllo", 100) == ("héllo", False)
    assert truncate("abc", 0) == ("", True)
