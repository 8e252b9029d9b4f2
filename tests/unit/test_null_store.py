"""``NullStore`` (--no-store): honest empties, one-line refusals, and the wrapper that forwards."""

from __future__ import annotations

import subprocess
import sys

import pytest

from runner.errors import EXIT_USAGE, CapabilityError, ConfigError
from runner.execute.logsafe import SecretLogFilter, learning_store
from runner.secrets.crypto import SecretBox, generate_key
from runner.store.base import NullStore, quarantined_tests


async def test_nothing_stored_means_empty_answers() -> None:
    """No run, no user, no quarantines, no stored secrets."""
    store = NullStore()
    assert (store.name, store.run_id, store.user) == ("null", None, None)
    assert quarantined_tests(store) == frozenset()
    assert await store.environment_secrets("shop", "staging") == {}
    assert await store.list_quarantines() == []


@pytest.mark.parametrize(
    ("call", "capability"),
    [
        (lambda s: s.set_environment_secret("p", "e", "n", "v"), "store a secret"),
        (lambda s: s.load_credentials(["a"]), "read credentials"),
        (lambda s: s.save_credential("a", "api_key", {"key": "k"}), "store a credential"),
        (lambda s: s.delete_credential("a"), "delete a credential"),
        (lambda s: s.run_analysis("r"), "analyse a run"),
        (lambda s: s.add_quarantine("s", "t", "why"), "quarantine a test"),
        (lambda s: s.remove_quarantine("s", "t"), "lift a quarantine"),
        (lambda s: s.load_suite("shop"), "load stored suite 'shop'"),
    ],
)
async def test_what_needs_a_database_is_refused_in_one_line(call: object, capability: str) -> None:
    """Each refusal is a CapabilityError (a ConfigError, exit 2) naming store and capability."""
    with pytest.raises(CapabilityError) as refused:
        await call(NullStore())  # type: ignore[operator]
    message = str(refused.value)
    assert message == f"the null store cannot {capability}: it records nothing (drop --no-store)"
    assert "\n" not in message
    assert isinstance(refused.value, ConfigError) and refused.value.exit_code == EXIT_USAGE


async def test_rotation_is_refused() -> None:
    """Rotating needs stored ciphertexts: refused."""
    box = SecretBox.from_base64(generate_key())
    with pytest.raises(CapabilityError, match="the null store cannot rotate the secret key"):
        await NullStore().rotate_secret_key(box, box)


async def test_the_learning_wrapper_forwards_every_capability() -> None:
    """The log-redacting wrapper answers like the store it wraps."""
    wrapped = learning_store(NullStore(), SecretLogFilter())
    assert (wrapped.name, wrapped.run_id, wrapped.user, wrapped.quarantined) == (
        "null",
        None,
        None,
        frozenset(),
    )
    assert await wrapped.list_quarantines() == []
    with pytest.raises(CapabilityError, match="null store cannot load stored suite"):
        await wrapped.load_suite("x")


def test_a_run_without_a_store_imports_no_database_driver() -> None:
    """--no-store asks the store for secrets and credentials without importing psycopg."""
    code = """
import asyncio, sys
import httpx
from runner.api import run_suite
from runner.store.base import NullStore
from runner.suite.load import load_suite_text
suite = load_suite_text(
    "name: s\\nbase_url: http://a.test\\ndefault_env: e\\nenvironments:\\n  e:\\n"
    "    secrets:\\n      pw: {env: PW, default: d}\\n"
    "tests:\\n  - id: t\\n    request: {url: /x}\\n",
    file="s.yaml",
)
async def main():
    transport = httpx.MockTransport(lambda r: httpx.Response(200))
    async with httpx.AsyncClient(transport=transport) as client:
        result = await run_suite(suite, store=NullStore(), client=client, services=(), environ={})
    print(result.status.value, "psycopg" in sys.modules, "supabase" in sys.modules)
asyncio.run(main())
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.stdout.split() == ["passed", "False", "False"], proc.stderr
