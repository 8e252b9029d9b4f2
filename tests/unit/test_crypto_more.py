"""SecretBox edges: raw key length, short ciphertexts, strings that are not sealed values."""

from __future__ import annotations

import base64

import pytest

from runner.secrets.crypto import (
    ENC,
    SecretBox,
    SecretKeyError,
    is_sealed,
    sealed_in,
    sealed_key_id,
    sealed_object,
)

KEY = bytes(range(32))


def test_a_raw_key_of_the_wrong_length_is_refused() -> None:
    """SecretBox needs exactly 32 bytes and says how many it got."""
    with pytest.raises(SecretKeyError, match="32 bytes, not 16"):
        SecretBox(KEY[:16])


def test_a_ciphertext_no_longer_than_a_nonce_is_refused() -> None:
    """Twelve bytes or fewer cannot be AES-GCM output: a clear error, not a crypto exception."""
    box = SecretBox(KEY)
    for blob in (b"", b"\x00" * 12):
        with pytest.raises(SecretKeyError, match="too short"):
            box.decrypt(blob)


def test_unseal_refuses_strings_that_are_not_sealed() -> None:
    """Plain text or a wrong prefix is not a sealed value; a real one round-trips."""
    box = SecretBox(KEY)
    for text in ("hunter2", "v2:abcd:AAAA", ""):
        with pytest.raises(SecretKeyError, match="not a sealed value"):
            box.unseal(text)
    sealed = box.seal({"token": "t"})
    assert box.unseal(sealed) == {"token": "t"}
    assert sealed_key_id(sealed) == box.key_id


def test_sealed_objects_are_recognised_only_in_their_exact_shape() -> None:
    """{"enc": sealed} alone is sealed; extra keys, other types or plain strings are not."""
    box = SecretBox(KEY)
    wrapped = sealed_object(box, "secret")
    assert set(wrapped) == {ENC} and is_sealed(wrapped[ENC]) and not is_sealed(wrapped)
    assert sealed_in(wrapped) == wrapped[ENC]
    assert sealed_in({**wrapped, "other": 1}) is None
    assert sealed_in({ENC: 5}) is None
    assert sealed_in({ENC: "plain"}) is None
    assert sealed_in(["not", "a", "dict"]) is None
    assert not is_sealed("plain") and sealed_key_id("plain") is None
    assert base64.b64decode(wrapped[ENC].split(":")[2])
