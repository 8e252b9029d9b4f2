"""Connection strings and targets: validation, hidden passwords, the embedded default."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.db.connect import describe, hide_password, resolve_target, validate_url
from runner.errors import DatabaseError
from runner.settings import Settings


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("postgresql://me:hunter2@db.example:notaport/app", "malformed connection string"),
        ("host=db password=hunter2 dangling", 'missing "=" after "dangling"'),
        ("just-a-name", "expected postgresql://"),
    ],
)
def test_malformed_urls_are_refused_without_the_password(url: str, fragment: str) -> None:
    """A bad port, bad key=value syntax or no scheme is a DatabaseError that hides the password."""
    with pytest.raises(DatabaseError, match=fragment) as refused:
        validate_url(url)
    assert "hunter2" not in str(refused.value)


def test_well_formed_urls_and_key_value_strings_pass() -> None:
    """A URL with a port and a key=value conninfo string are both accepted."""
    validate_url("postgresql://me:pw@127.0.0.1:5432/app")
    validate_url("host=127.0.0.1 port=5432 dbname=app")


def test_passwords_are_hidden_in_urls_and_key_values() -> None:
    """Both spellings of a password are masked; describe keeps the first line only."""
    assert hide_password("postgresql://u:s3cret@h/db") == "postgresql://u:***@h/db"
    assert hide_password("host=h PASSWORD = s3cret") == "host=h PASSWORD = ***"
    assert describe(RuntimeError("bad postgresql://u:s3cret@h\ndetail")) == (
        "bad postgresql://u:***@h"
    )
    assert describe(RuntimeError("")) == "RuntimeError"


def test_embedded_target_without_starting(tmp_path: Path) -> None:
    """With no database URL the target is the embedded server's URL; start=False starts nothing."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, RUNNER_DATA_DIR=str(tmp_path), RUNNER_EMBEDDED_PORT="55999"
    )
    target = resolve_target(settings, start=False)
    assert target.embedded and target.url == "postgresql://postgres@127.0.0.1:55999/runner"
    assert not (tmp_path / "pgdata").exists()
    external = Settings(  # type: ignore[call-arg]
        _env_file=None, RUNNER_DATABASE_URL=" postgresql://u:pw@h:5432/d "
    )
    resolved = resolve_target(external)
    assert not resolved.embedded and resolved.display == "postgresql://u:***@h:5432/d"
