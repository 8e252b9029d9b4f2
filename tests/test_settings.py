"""Settings: one object, every variable documented in .env.example."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def _documented() -> set[str]:
    names = set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            names.add(line.split("=", 1)[0])
    return names


def test_every_setting_is_in_env_example() -> None:
    """Each environment variable Settings reads appears in .env.example."""
    documented = _documented()
    for field in Settings.model_fields.values():
        aliases = field.validation_alias.choices  # type: ignore[union-attr]
        assert str(aliases[0]) in documented


def test_supabase_db_url_is_an_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    """SUPABASE_DB_URL configures the database like RUNNER_DATABASE_URL."""
    monkeypatch.delenv("RUNNER_DATABASE_URL", raising=False)
    monkeypatch.setenv("SUPABASE_DB_URL", "postgresql://u:p@db.example:6543/postgres")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert not settings.uses_embedded
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value().endswith(":6543/postgres")


def test_no_url_means_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no connection string the embedded server is used."""
    monkeypatch.delenv("RUNNER_DATABASE_URL", raising=False)
    monkeypatch.delenv("SUPABASE_DB_URL", raising=False)
    assert Settings(_env_file=None).uses_embedded  # type: ignore[call-arg]


def test_organization_id_wins_over_the_organisation_name() -> None:
    """RUNNER_ORGANIZATION_ID (a uuid) is what the store addresses; blank means unset."""
    from pydantic import ValidationError

    org_id = "3f1b7c52-0a7e-4d4e-9b2a-5c1e8f0d9a11"
    both = Settings(_env_file=None, RUNNER_ORGANIZATION="CI Prod", RUNNER_ORGANIZATION_ID=org_id)  # type: ignore[call-arg]
    assert both.organization_ref == org_id
    blank = Settings(_env_file=None, RUNNER_ORGANIZATION="CI Prod", RUNNER_ORGANIZATION_ID=" ")  # type: ignore[call-arg]
    assert blank.organization_id is None and blank.organization_ref == "CI Prod"
    with pytest.raises(ValidationError):
        Settings(_env_file=None, RUNNER_ORGANIZATION_ID="ci-prod")  # type: ignore[call-arg]
