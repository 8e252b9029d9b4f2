"""Rotating the key of everything encrypted in the database.

Environment secrets are stored and read through a ``Store`` (``set_environment_secret``,
``environment_secrets``: one implementation over SQL functions for both stores, and
``runner.store.run_inputs`` for what a run needs). Rotation re-encrypts every
ciphertext in one transaction on a direct connection, so only ``PostgresStore``
offers it. Plaintext never reaches the database: values are
encrypted with a ``SecretBox`` (``runner.secrets.crypto``) before they are written.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from runner.db.connect import describe
from runner.db.identity import Identity, apply_identity
from runner.db.sqlfiles import query
from runner.errors import DatabaseError
from runner.secrets.crypto import (
    ENC,
    SecretBox,
    SecretKeyError,
    is_sealed,
    sealed_in,
    sealed_key_id,
)
from runner.store.records import RotationReport

__all__ = ["RotationReport", "rotate_secrets"]

# ------------------------------------------------------------------ rotation


def _reencrypt(blob: bytes, key_id: str, old: SecretBox, new: SecretBox, where: str) -> bytes:
    if key_id != old.key_id:
        raise SecretKeyError(
            f"{where} was encrypted with key {key_id}, not the old key {old.key_id} "
            "(wrong --old-key?); nothing was changed"
        )
    try:
        plain = old.decrypt(blob, key_id)
    except SecretKeyError as exc:
        raise SecretKeyError(f"{where}: {exc}; nothing was changed") from None
    return new.encrypt(plain)


def _reseal(sealed: str, old: SecretBox, new: SecretBox, where: str) -> str:
    key_id = sealed_key_id(sealed)
    if key_id != old.key_id:
        raise SecretKeyError(
            f"{where} was sealed with key {key_id}, not the old key {old.key_id} "
            "(wrong --old-key?); nothing was changed"
        )
    try:
        return new.seal(old.unseal(sealed))
    except SecretKeyError as exc:
        raise SecretKeyError(f"{where}: {exc}; nothing was changed") from None


async def rotate_secrets(
    conn: psycopg.AsyncConnection[Any], old: SecretBox, new: SecretBox
) -> RotationReport:
    """Re-encrypt every ciphertext from ``old`` to ``new`` in one transaction.

    Covers ``environment_variables``, ``api_credentials`` and the sealed tokens,
    variables and captures of ``test_execution_context``. Values already under ``new`` are left as
    they are (a rotation interrupted and repeated finishes the job). Anything sealed
    with a third key, or that does not decrypt with ``old``, raises ``SecretKeyError``
    and the transaction is rolled back: all or nothing.
    """
    if old.key_id == new.key_id:
        raise SecretKeyError(f"the old and the new key are the same key ({new.key_id})")
    counts = {"env": 0, "cred": 0, "ctx": 0, "current": 0}
    try:
        async with conn.transaction():
            await apply_identity(conn, Identity.service())
            await _rotate_columns(conn, old, new, counts)
            await _rotate_contexts(conn, old, new, counts)
    except psycopg.Error as exc:
        raise DatabaseError(f"key rotation failed, nothing changed: {describe(exc)}") from None
    return RotationReport(counts["env"], counts["cred"], counts["ctx"], counts["current"])


async def _rotate_columns(
    conn: psycopg.AsyncConnection[Any], old: SecretBox, new: SecretBox, counts: dict[str, int]
) -> None:
    for select, update, label, count_key in (
        ("rotate_select_variables", "rotate_update_variable", "environment variable", "env"),
        ("rotate_select_credentials", "rotate_update_credential", "credential", "cred"),
    ):
        cur = await conn.execute(query(select))
        for row_id, name, blob, key_id in await cur.fetchall():
            if key_id == new.key_id:
                counts["current"] += 1
                continue
            fresh = _reencrypt(bytes(blob), key_id, old, new, f"{label} {name!r}")
            await conn.execute(query(update), (fresh, new.key_id, row_id))
            counts[count_key] += 1


async def _rotate_contexts(
    conn: psycopg.AsyncConnection[Any], old: SecretBox, new: SecretBox, counts: dict[str, int]
) -> None:
    cur = await conn.execute(query("rotate_select_contexts"))
    for ctx_id, run_id, tokens, variables, captured in await cur.fetchall():
        before = counts["ctx"]
        where = f"of run {run_id}"
        # tokens are sealed strings; secret variables and captures are {"enc": ...}
        tokens = {
            k: _reseal_value(v, old, new, counts, f"token {k!r} {where}") for k, v in tokens.items()
        }
        variables = {
            k: _reseal_value(v, old, new, counts, f"variable {k!r} {where}")
            for k, v in variables.items()
        }
        captured = {
            test: (
                {
                    k: _reseal_value(v, old, new, counts, f"capture {test}.{k} {where}")
                    for k, v in values.items()
                }
                if isinstance(values, dict)
                else values
            )
            for test, values in captured.items()
        }
        if counts["ctx"] != before:
            await conn.execute(
                query("rotate_update_context"),
                (Jsonb(tokens), Jsonb(variables), Jsonb(captured), ctx_id),
            )


def _reseal_value(
    value: Any, old: SecretBox, new: SecretBox, counts: dict[str, int], where: str
) -> Any:
    """``value`` re-sealed under ``new`` if it is a sealed string or ``{"enc": ...}``."""
    as_object = not isinstance(value, str)
    sealed = sealed_in(value) if as_object else (value if is_sealed(value) else None)
    if sealed is None:
        return value
    if sealed_key_id(sealed) == new.key_id:
        counts["current"] += 1
        return value
    counts["ctx"] += 1
    fresh = _reseal(sealed, old, new, where)
    return {ENC: fresh} if as_object else fresh
