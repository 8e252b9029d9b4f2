"""Secrets at rest: AES-256-GCM with a key the database never sees.

The key is ``RUNNER_SECRET_KEY`` (base64 of 32 random bytes; ``python -m runner
secrets keygen`` prints one). Every ciphertext is stored next to a short *key id*
(the first 8 hex digits of the key's SHA-256) so a rotation knows what each value
was sealed with, and a wrong key is named instead of failing obscurely.
Plaintext exists only in memory.

Two shapes:

- bytes, for ``bytea`` columns (``environment_variables.encrypted_value``,
  ``api_credentials.encrypted_secret``): ``nonce (12 bytes) || ciphertext+tag``,
  with the key id in the row's ``key_id`` column;
- a *sealed string* for JSON columns (the execution context):
  ``v1:<key id>:<base64(nonce || ciphertext+tag)>`` of the JSON encoding of the value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from typing import TYPE_CHECKING, Any

from runner.errors import ConfigError

if TYPE_CHECKING:
    from runner.settings import Settings

KEY_BYTES = 32
NONCE_BYTES = 12
SEALED_PREFIX = "v1:"
SEALED = re.compile(r"^v1:([0-9a-f]{8}):([A-Za-z0-9+/=]+)$")
KEYGEN_HINT = (
    "generate one with `python -m runner secrets keygen` and set RUNNER_SECRET_KEY "
    "(environment or .env)"
)


class SecretKeyError(ConfigError):
    """A key is missing or malformed, or a ciphertext was not made with the key given."""


def generate_key() -> str:
    """A new random key, base64-encoded, ready for ``RUNNER_SECRET_KEY``."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def key_id_of(key: bytes) -> str:
    """The short, non-secret name of a key: first 8 hex digits of its SHA-256."""
    return hashlib.sha256(key).hexdigest()[:8]


def parse_key(text: str, *, name: str = "RUNNER_SECRET_KEY") -> bytes:
    """Decode a base64 key; ``SecretKeyError`` unless it is exactly 32 bytes."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SecretKeyError(f"{name} is not valid base64; {KEYGEN_HINT}") from None
    if len(key) != KEY_BYTES:
        raise SecretKeyError(
            f"{name} must be the base64 of {KEY_BYTES} bytes, not {len(key)}; {KEYGEN_HINT}"
        )
    return key


class SecretBox:
    """Encrypts and decrypts with one AES-256-GCM key."""

    __slots__ = ("_aead", "key_id")

    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if len(key) != KEY_BYTES:
            raise SecretKeyError(f"an AES-256 key has {KEY_BYTES} bytes, not {len(key)}")
        self._aead = AESGCM(key)
        self.key_id = key_id_of(key)

    @classmethod
    def from_base64(cls, text: str, *, name: str = "RUNNER_SECRET_KEY") -> SecretBox:
        """The box of a base64 key as found in the settings."""
        return cls(parse_key(text, name=name))

    def __repr__(self) -> str:
        return f"SecretBox(key_id={self.key_id!r})"  # never the key

    # ------------------------------------------------------------------- bytes

    def encrypt(self, plaintext: bytes) -> bytes:
        """``nonce || ciphertext+tag`` (a fresh random nonce every time)."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, None)

    def decrypt(self, blob: bytes, key_id: str | None = None) -> bytes:
        """The plaintext; ``SecretKeyError`` when ``key_id`` or the tag says another key."""
        from cryptography.exceptions import InvalidTag

        if key_id is not None and key_id != self.key_id:
            raise SecretKeyError(
                f"a value was encrypted with key {key_id}, but the key given is {self.key_id}"
            )
        if len(blob) <= NONCE_BYTES:
            raise SecretKeyError("a ciphertext is too short to be AES-GCM output")
        try:
            return self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], None)
        except InvalidTag:
            raise SecretKeyError(
                f"a value labelled key {key_id or '?'} does not decrypt with key {self.key_id} "
                "(wrong key or corrupted ciphertext)"
            ) from None

    def encrypt_text(self, text: str) -> bytes:
        """``encrypt`` of UTF-8 text."""
        return self.encrypt(text.encode("utf-8"))

    def decrypt_text(self, blob: bytes, key_id: str | None = None) -> str:
        """``decrypt`` to UTF-8 text."""
        return self.decrypt(blob, key_id).decode("utf-8")

    # ----------------------------------------------------------------- strings

    def seal(self, value: Any) -> str:
        """``v1:<key id>:<base64>`` of the JSON encoding of ``value``."""
        blob = self.encrypt(json.dumps(value, separators=(",", ":")).encode("utf-8"))
        return f"{SEALED_PREFIX}{self.key_id}:{base64.b64encode(blob).decode('ascii')}"

    def unseal(self, sealed: str) -> Any:
        """The value ``seal`` was given."""
        match = SEALED.match(sealed)
        if match is None:
            raise SecretKeyError("not a sealed value (expected v1:<key id>:<base64>)")
        blob = base64.b64decode(match.group(2))
        return json.loads(self.decrypt(blob, match.group(1)))


ENC = "enc"
"""Key of the one-key JSON object that holds a sealed value: ``{"enc": "v1:..."}``."""


def sealed_object(box: SecretBox, value: Any) -> dict[str, str]:
    """``{"enc": <sealed value>}``: how a secret capture is kept in ``captured_data``."""
    return {ENC: box.seal(value)}


def sealed_in(value: Any) -> str | None:
    """The sealed string of a ``{"enc": ...}`` object, else None."""
    if isinstance(value, dict) and len(value) == 1 and is_sealed(value.get(ENC)):
        return str(value[ENC])
    return None


def is_sealed(value: Any) -> bool:
    """True for a string in the ``v1:<key id>:<base64>`` shape."""
    return isinstance(value, str) and SEALED.match(value) is not None


def sealed_key_id(value: str) -> str | None:
    """The key id of a sealed string (None when it is not one)."""
    match = SEALED.match(value)
    return match.group(1) if match else None


def box_from_settings(settings: Settings) -> SecretBox | None:
    """The box of ``RUNNER_SECRET_KEY``, or None when no key is configured."""
    if settings.secret_key is None or not settings.secret_key.get_secret_value().strip():
        return None
    return SecretBox.from_base64(settings.secret_key.get_secret_value())


def require_box(settings: Settings, purpose: str) -> SecretBox:
    """The configured box; ``SecretKeyError`` naming ``purpose`` and how to get a key."""
    box = box_from_settings(settings)
    if box is None:
        raise SecretKeyError(f"{purpose} needs RUNNER_SECRET_KEY, which is not set; {KEYGEN_HINT}")
    return box
