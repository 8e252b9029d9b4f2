"""runner.secrets.crypto: AES-256-GCM boxes, key ids, sealed strings and key errors."""

from __future__ import annotations

import base64

import pytest

from runner.errors import ConfigError
from runner.secrets.crypto import (
    ENC,
    SecretBox,
    SecretKeyError,
    box_from_settings,
    generate_key,
    is_sealed,
    key_id_of,
    parse_key,
    require_box,
    sealed_in,
    sealed_key_id,
    sealed_object,
)
from runner.settings import Settings

KEY = base64.b64encode(bytes(range(32))).decode()


def test_generated_key_is_32_random_bytes() -> None:
    """generate_key gives the base64 of 32 bytes, different every time."""
    a, b = generate_key(), generate_key()
    assert len(parse_key(a)) == 32
    assert a != b


def test_key_id_is_8_hex_of_sha256() -> None:
    """The key id is the first 8 hex digits of the key's SHA-256."""
    box = SecretBox.from_base64(KEY)
    assert box.key_id == key_id_of(bytes(range(32)))
    assert len(box.key_id) == 8
    assert KEY not in repr(box)


def test_bytes_round_trip_with_fresh_nonce() -> None:
    """encrypt then decrypt returns the plaintext; two encryptions differ."""
    box = SecretBox.from_base64(KEY)
    a, b = box.encrypt_text("hunter2"), box.encrypt_text("hunter2")
    assert a != b
    assert b"hunter2" not in a
    assert box.decrypt_text(a, box.key_id) == "hunter2"


def test_wrong_key_is_a_clear_error() -> None:
    """A ciphertext of another key fails with SecretKeyError naming both key ids."""
    box, other = SecretBox.from_base64(KEY), SecretBox.from_base64(generate_key())
    blob = box.encrypt_text("x-secret")
    with pytest.raises(SecretKeyError, match=f"{box.key_id}.*{other.key_id}"):
        other.decrypt(blob, box.key_id)
    with pytest.raises(SecretKeyError, match="does not decrypt"):
        other.decrypt(blob)


def test_tampered_ciphertext_is_rejected() -> None:
    """Flipping one bit of the ciphertext fails authentication."""
    box = SecretBox.from_base64(KEY)
    blob = bytearray(box.encrypt_text("x-secret"))
    blob[-1] ^= 1
    with pytest.raises(SecretKeyError):
        box.decrypt(bytes(blob), box.key_id)


def test_seal_and_unseal_keep_json_values() -> None:
    """seal gives v1:<key id>:<base64> and unseal returns the same JSON value."""
    box = SecretBox.from_base64(KEY)
    sealed = box.seal({"a": [1, "two"]})
    assert is_sealed(sealed)
    assert sealed.startswith(f"v1:{box.key_id}:")
    assert sealed_key_id(sealed) == box.key_id
    assert box.unseal(sealed) == {"a": [1, "two"]}
    obj = sealed_object(box, "tok")
    assert list(obj) == [ENC]
    assert sealed_in(obj) == obj[ENC]
    assert sealed_in({"enc": "plain"}) is None
    assert not is_sealed("v1:nothex:abc")


@pytest.mark.parametrize(
    ("text", "message"),
    [("not base64!!", "not valid base64"), (base64.b64encode(b"short").decode(), "32 bytes")],
)
def test_malformed_key_names_the_keygen_command(text: str, message: str) -> None:
    """A malformed key is a ConfigError that says how to generate a good one."""
    with pytest.raises(ConfigError, match=message) as info:
        parse_key(text)
    assert "python -m runner secrets keygen" in str(info.value)


def test_missing_key_when_required_is_a_config_error() -> None:
    """require_box without RUNNER_SECRET_KEY raises a ConfigError naming the purpose and keygen."""
    settings = Settings(_env_file=None, RUNNER_SECRET_KEY=None)  # type: ignore[call-arg]
    assert box_from_settings(settings) is None
    with pytest.raises(ConfigError, match="storing a secret needs RUNNER_SECRET_KEY") as info:
        require_box(settings, "storing a secret")
    assert "secrets keygen" in str(info.value)


def test_box_from_settings_uses_the_configured_key() -> None:
    """With RUNNER_SECRET_KEY set, the box has that key's id."""
    settings = Settings(_env_file=None, RUNNER_SECRET_KEY=KEY)  # type: ignore[call-arg]
    box = box_from_settings(settings)
    assert box is not None and box.key_id == key_id_of(bytes(range(32)))
