"""Chooses the environment a run targets and resolves its variables and secrets.

Secrets come from the process environment first, then ``.env`` files (the working
directory's, then the suite's folder), then the suite's ``default``. A secret that
has none of these stops the run before any request, naming where it is declared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.errors import ConfigError
from runner.models import Suite
from runner.suite.load import LoadedSuite


@dataclass(frozen=True)
class ResolvedEnvironment:
    """The environment of one run with every value known."""

    name: str | None
    base_url: str | None
    variables: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    credentials: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The run's user's credentials by name, as templates see them (``credentials.x.token``)."""
    hidden: tuple[str, ...] = ()
    """More values to redact everywhere: the credentials' secret fields."""


def choose_environment(suite: Suite, name: str | None) -> str | None:
    """``--env``, else the suite's default_env, else its first environment, else None."""
    known = list(suite.environments)
    if name is None:
        name = suite.default_env or (known[0] if known else None)
        if name is None:
            return None
    if name not in suite.environments:
        where = f"{suite.source_path}: " if suite.source_path else ""
        listed = ", ".join(known) if known else "none are defined"
        raise ConfigError(f"{where}unknown environment {name!r} (known: {listed})")
    return name


def read_dotenv(suite: Suite) -> dict[str, str]:
    """Values from ``./.env`` and the suite folder's ``.env`` (the first one wins)."""
    paths = [Path.cwd() / ".env"]
    if suite.source_path:
        paths.append(Path(suite.source_path).resolve().parent / ".env")
    values: dict[str, str] = {}
    existing = [p for p in dict.fromkeys(paths) if p.is_file()]
    if not existing:
        return values
    from dotenv import dotenv_values  # imported only when there is a file to read

    for path in existing:
        for key, value in dotenv_values(path).items():
            if value is not None:
                values.setdefault(key, value)
    return values


def resolve_environment(
    loaded: LoadedSuite,
    name: str | None,
    environ: Mapping[str, str],
    overrides: Mapping[str, str] | None = None,
    *,
    base_url: str | None = None,
    dotenv: Mapping[str, str] | None = None,
    stored: Mapping[str, str] | None = None,
) -> ResolvedEnvironment:
    """The environment ``name`` (or the default one), with secrets read and ``--var`` applied.

    ``base_url`` (``--base-url``) overrides the environment's, which overrides the
    suite's. ``dotenv`` replaces reading ``.env`` files (tests pass ``{}``).
    ``stored`` are the environment's secrets decrypted from the database (by secret
    name); they come after the process environment and ``.env``, before ``default``.
    """
    suite = loaded.suite
    chosen = choose_environment(suite, name)
    env = suite.environments[chosen] if chosen is not None else None
    variables: dict[str, Any] = dict(env.variables) if env else {}
    variables.update(overrides or {})
    secrets: dict[str, str] = {}
    if env and env.secrets:
        from_files = read_dotenv(suite) if dotenv is None else dotenv
        for secret, ref in env.secrets.items():
            value = environ.get(ref.env)
            if value is None:
                value = from_files.get(ref.env)
            if value is None and stored:
                value = stored.get(secret)
            if value is None:
                value = ref.default
            if value is None:
                raise ConfigError(_missing_secret(loaded, chosen, secret, ref.env))
            secrets[secret] = value
    resolved_url = base_url or (env.base_url if env else None) or suite.base_url
    return ResolvedEnvironment(chosen, resolved_url, variables, secrets)


def _missing_secret(loaded: LoadedSuite, env_name: str | None, secret: str, var: str) -> str:
    suite = loaded.suite
    line = loaded.source.line_of(("environments", env_name or "", "secrets", secret))
    where = ""
    if suite.source_path:
        where = f"{suite.source_path}:{line}: " if line else f"{suite.source_path}: "
    return (
        f"{where}secret {secret!r} of environment {env_name!r} needs the environment "
        f"variable {var} (not set, not in .env, and no default)"
    )
