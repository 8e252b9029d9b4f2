"""Choosing the environment and resolving its variables and secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import ConfigError
from runner.suite.environment import resolve_environment
from runner.suite.load import LoadedSuite, load_suite_text

SUITE = """\
name: shop
base_url: http://suite.test
default_env: staging
environments:
  local:
    base_url: http://local.test
    variables: {page: 1}
  staging:
    variables: {page: 2, region: eu}
    secrets:
      password: SHOP_PASSWORD
      api_key: {env: SHOP_KEY, default: demo-key}
tests:
  - id: a
    request: {url: /a}
"""


def loaded(text: str = SUITE) -> LoadedSuite:
    return load_suite_text(text, file="suites/shop.yaml")


def test_default_env_then_first_then_none() -> None:
    """--env wins, else default_env, else the first environment, else none at all."""
    env = resolve_environment(loaded(), None, {"SHOP_PASSWORD": "pw1"}, dotenv={})
    assert env.name == "staging"
    assert resolve_environment(loaded(), "local", {}, dotenv={}).name == "local"
    first = loaded(SUITE.replace("default_env: staging\n", ""))
    assert resolve_environment(first, None, {}, dotenv={}).name == "local"
    bare = loaded("name: x\ntests:\n  - id: a\n    request: {url: http://t/a}\n")
    none = resolve_environment(bare, None, {}, dotenv={})
    assert (none.name, none.base_url, none.variables, none.secrets) == (None, None, {}, {})


def test_unknown_environment_lists_the_known_ones() -> None:
    """An unknown --env is a ConfigError (exit 2) naming the environments there are."""
    with pytest.raises(ConfigError) as info:
        resolve_environment(loaded(), "prod", {}, dotenv={})
    assert str(info.value) == (
        "suites/shop.yaml: unknown environment 'prod' (known: local, staging)"
    )
    assert info.value.exit_code == 2


def test_base_url_precedence_and_variable_overrides() -> None:
    """--base-url beats the environment's base_url, which beats the suite's; --var overrides."""
    local = resolve_environment(loaded(), "local", {}, {"page": "9"}, dotenv={})
    assert local.base_url == "http://local.test"
    assert local.variables == {"page": "9"}
    staging = resolve_environment(loaded(), "staging", {"SHOP_PASSWORD": "p"}, dotenv={})
    assert staging.base_url == "http://suite.test"
    cli = resolve_environment(loaded(), "local", {}, base_url="http://cli.test", dotenv={})
    assert cli.base_url == "http://cli.test"


def test_secrets_come_from_environ_then_dotenv_then_default() -> None:
    """The process environment wins over .env values, which win over the default."""
    env = resolve_environment(
        loaded(), None, {"SHOP_PASSWORD": "from-environ"}, dotenv={"SHOP_PASSWORD": "x"}
    )
    assert env.secrets == {"password": "from-environ", "api_key": "demo-key"}
    env = resolve_environment(
        loaded(), None, {}, dotenv={"SHOP_PASSWORD": "from-dotenv", "SHOP_KEY": "k2"}
    )
    assert env.secrets == {"password": "from-dotenv", "api_key": "k2"}


def test_a_missing_secret_names_file_line_secret_and_variable() -> None:
    """No value and no default: a ConfigError pointing at where the secret is declared."""
    with pytest.raises(ConfigError) as info:
        resolve_environment(loaded(), None, {}, dotenv={})
    assert str(info.value) == (
        "suites/shop.yaml:11: secret 'password' of environment 'staging' needs the "
        "environment variable SHOP_PASSWORD (not set, not in .env, and no default)"
    )


def test_dotenv_file_next_to_the_suite_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without an explicit mapping, .env in the suite's folder provides secrets."""
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / ".env").write_text("SHOP_PASSWORD=dotenv-pw\n")
    monkeypatch.chdir(tmp_path)
    suite = load_suite_text(SUITE, file=str(tmp_path / "suites" / "shop.yaml"))
    env = resolve_environment(suite, None, {})
    assert env.secrets["password"] == "dotenv-pw"
