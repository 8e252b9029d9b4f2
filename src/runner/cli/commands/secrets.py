"""``python -m runner secrets keygen|set|rotate``."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    """Add the ``secrets`` command group."""
    cmd = sub.add_parser("secrets", help="encryption key and secrets at rest")
    actions = cmd.add_subparsers(dest="secrets_command", metavar="ACTION", parser_class=type(cmd))
    actions.required = True

    keygen = actions.add_parser("keygen", help="print a new RUNNER_SECRET_KEY")
    keygen.set_defaults(func=_keygen)

    put = actions.add_parser(
        "set", help="store an environment secret, encrypted (value read from stdin)"
    )
    put.add_argument("name", help="variable name, e.g. API_PASSWORD")
    put.add_argument("--project", required=True, help="project slug")
    put.add_argument("--env", required=True, dest="environment", help="environment name")
    put.set_defaults(func=_set)

    rotate = actions.add_parser(
        "rotate", help="re-encrypt every stored secret from the old key to RUNNER_SECRET_KEY"
    )
    rotate.add_argument(
        "--old-key", default=None, help="the previous key (default: RUNNER_SECRET_KEY_OLD)"
    )
    rotate.set_defaults(func=_rotate)


async def _keygen(args: argparse.Namespace) -> int:
    from runner.secrets.crypto import generate_key, key_id_of, parse_key

    key = generate_key()
    print(key)
    print(f"# key id {key_id_of(parse_key(key))}; set it as RUNNER_SECRET_KEY", file=sys.stderr)
    return 0


def _settings() -> Any:
    from runner.errors import ConfigError
    from runner.settings import Settings

    try:
        return Settings()
    except Exception as exc:
        raise ConfigError(f"invalid settings: {exc}") from None


async def _set(args: argparse.Namespace) -> int:
    from runner.errors import ConfigError
    from runner.secrets.crypto import require_box
    from runner.store.factory import open_store

    settings = _settings()
    box = require_box(settings, "storing a secret")
    value = sys.stdin.read().rstrip("\r\n")
    if not value:
        raise ConfigError("no secret value on stdin")
    async with open_store(settings) as store:
        await store.set_environment_secret(args.project, args.environment, args.name, value)
    print(f"stored secret {args.name} of {args.project}/{args.environment} (key {box.key_id})")
    return 0


async def _rotate(args: argparse.Namespace) -> int:
    from runner.secrets.crypto import SecretBox, SecretKeyError, require_box
    from runner.store.factory import open_store

    settings = _settings()
    new = require_box(settings, "rotating the key")
    old_text: str | None = args.old_key
    if old_text is None and settings.secret_key_old is not None:
        old_text = settings.secret_key_old.get_secret_value()
    if not old_text:
        raise SecretKeyError("secrets rotate needs the old key: --old-key or RUNNER_SECRET_KEY_OLD")
    old = SecretBox.from_base64(old_text, name="the old key")
    async with open_store(settings) as store:
        report = await store.rotate_secret_key(old, new)
    print(
        f"re-encrypted {report.total} values from key {old.key_id} to {new.key_id}: "
        f"{report.environment_variables} environment secrets, {report.api_credentials} "
        f"credentials, {report.context_values} context values "
        f"({report.already_current} already under the new key)"
    )
    return 0
