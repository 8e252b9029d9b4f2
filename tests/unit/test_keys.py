"""serve's JWT keys: secret length, verification, the kept secret and the env file."""

from __future__ import annotations

import stat
from pathlib import Path

import jwt
import pytest

from runner.errors import ConfigError
from runner.serve.keys import (
    KEY_LIFETIME_S,
    InvalidToken,
    ServeKeys,
    load_or_create_secret,
    write_env_file,
)

SECRET = "k" * 40


def test_short_secret_is_a_config_error() -> None:
    """A JWT secret under 32 characters is refused with the variable's name."""
    with pytest.raises(ConfigError, match="RUNNER_JWT_SECRET"):
        ServeKeys.from_secret("short")


def test_keys_are_reproducible_and_verify() -> None:
    """Fixed issued_at gives the same keys; they decode to their role with a ten-year expiry."""
    a = ServeKeys.from_secret(SECRET, issued_at=1_000)
    b = ServeKeys.from_secret(SECRET, issued_at=1_000)
    assert a == b
    claims = jwt.decode(a.anon_key, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert claims["role"] == "anon" and claims["exp"] == 1_000 + KEY_LIFETIME_S
    fresh = ServeKeys.from_secret(SECRET)
    assert fresh.decode(fresh.service_role_key)["role"] == "service_role"


def test_expired_forged_and_incomplete_tokens_are_invalid() -> None:
    """Expired, wrongly signed, role-less and garbage tokens raise InvalidToken saying why."""
    keys = ServeKeys.from_secret(SECRET)
    with pytest.raises(InvalidToken, match="JWT expired"):
        keys.decode(keys.sign({"role": "anon", "exp": 1}))
    other = ServeKeys.from_secret("o" * 40)
    with pytest.raises(InvalidToken, match="invalid JWT"):
        keys.decode(other.anon_key)
    with pytest.raises(InvalidToken, match="role"):
        keys.decode(keys.sign({"exp": 4_000_000_000}))
    with pytest.raises(InvalidToken, match="invalid JWT"):
        keys.decode("not.a.jwt")


def test_configured_secret_wins_over_the_kept_one(tmp_path: Path) -> None:
    """A configured secret is returned as is and nothing is written."""
    assert load_or_create_secret(tmp_path, "configured-" + SECRET) == "configured-" + SECRET
    assert not (tmp_path / "serve.env").exists()


def test_secret_is_made_once_then_kept(tmp_path: Path) -> None:
    """The first call writes serve.env (0600); later calls read the same secret back."""
    data_dir = tmp_path / "data"
    first = load_or_create_secret(data_dir, None)
    path = data_dir / "serve.env"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32
    assert load_or_create_secret(data_dir, None) == first
    assert load_or_create_secret(data_dir, "") == first


def test_serve_env_without_the_variable_gets_a_new_secret(tmp_path: Path) -> None:
    """A serve.env with other lines or an empty value is replaced by a fresh secret."""
    path = tmp_path / "serve.env"
    path.write_text("OTHER=1\nRUNNER_JWT_SECRET=  \n")
    secret = load_or_create_secret(tmp_path, None)
    assert secret and path.read_text() == f"RUNNER_JWT_SECRET={secret}\n"


def test_env_file_holds_url_and_keys_privately(tmp_path: Path) -> None:
    """write_env_file writes the URL, both keys and the secret, readable by the owner only."""
    keys = ServeKeys.from_secret(SECRET, issued_at=5)
    path = tmp_path / "nested" / ".env"
    write_env_file(path, "http://127.0.0.1:9", keys)
    lines = dict(line.split("=", 1) for line in path.read_text().splitlines()[1:])
    assert lines == {
        "SUPABASE_URL": "http://127.0.0.1:9",
        "SUPABASE_ANON_KEY": keys.anon_key,
        "SUPABASE_SERVICE_ROLE_KEY": keys.service_role_key,
        "RUNNER_JWT_SECRET": SECRET,
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
