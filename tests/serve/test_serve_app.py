"""The serve app starts, answers /config.json and signs keys that verify."""

from __future__ import annotations

import httpx
import pytest

from runner.serve.keys import InvalidToken, ServeKeys
from support_serve import ServeHandle


def test_config_json_gives_url_and_anon_key(serve: ServeHandle) -> None:
    """GET /config.json returns the public URL and the anon key, never the service key."""
    response = httpx.get(f"{serve.url}/config.json")
    assert response.status_code == 200
    body = response.json()
    assert body == {"supabaseUrl": serve.url, "anonKey": serve.anon_key}
    assert serve.service_role_key not in response.text


def test_keys_carry_roles_and_verify() -> None:
    """The anon and service_role keys decode to their role; another secret rejects them."""
    keys = ServeKeys.from_secret("x" * 40, issued_at=1_700_000_000)
    assert keys.decode(keys.anon_key)["role"] == "anon"
    assert keys.decode(keys.service_role_key)["role"] == "service_role"
    other = ServeKeys.from_secret("y" * 40)
    with pytest.raises(InvalidToken):
        other.decode(keys.anon_key)


def test_short_secret_is_refused() -> None:
    """A JWT secret under 32 characters is a configuration error."""
    from runner.errors import ConfigError

    with pytest.raises(ConfigError, match="at least 32"):
        ServeKeys.from_secret("short")
