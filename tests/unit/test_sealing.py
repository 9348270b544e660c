"""Sealing the parties' data (models.sealing): what a key seals, only the keyring opens."""

from __future__ import annotations

import pytest

from models.sealing import Keyring, SealError, is_sealed


def test_a_sealed_value_opens_with_its_keyring_and_says_nothing_in_clear() -> None:
    keyring = Keyring.generate()
    plain = "张三 13800138000".encode()
    sealed = keyring.seal(plain)
    assert is_sealed(sealed) and sealed.startswith(f"fq1:{keyring.current}:")
    assert "13800138000" not in sealed and plain not in sealed.encode()
    assert keyring.seal(plain) != sealed  # a fresh nonce each time
    assert keyring.open(sealed) == plain


def test_another_key_does_not_open_it_and_a_damaged_value_is_refused() -> None:
    keyring = Keyring.generate()
    sealed = keyring.seal(b"secret")
    with pytest.raises(SealError, match="which the keyring does not hold"):
        Keyring.generate().open(sealed)
    head, body = sealed.rsplit(":", 1)
    damaged = f"{head}:{body[:-8]}{'B' if body[-8] == 'A' else 'A'}{body[-7:]}"
    with pytest.raises(SealError, match="does not open with it"):
        keyring.open(damaged)
    with pytest.raises(SealError, match="damaged"):
        keyring.open(f"{head}:not*base64")


def test_a_rotated_keyring_seals_with_its_new_key_and_still_opens_the_old() -> None:
    old = Keyring.generate()
    sealed = old.seal(b"old")
    new = old.rotated()
    assert new.current != old.current and set(new.keys) == {old.current, new.current}
    assert new.open(sealed) == b"old"
    assert new.sealed_with(new.seal(b"x")) == new.current
    assert new.only_current().keys == {new.current: new.keys[new.current]}
    assert new.digest("phone", "13800138000") != old.digest("phone", "13800138000")
    assert new.digest("phone", "13800138000") == new.digest("phone", "13800138000")


def test_a_keyring_is_read_back_as_written_and_a_bad_one_is_refused() -> None:
    keyring = Keyring.generate().rotated()
    assert Keyring.from_text(keyring.to_text(), where="f") == keyring
    single = Keyring.from_text("A" * 43 + "=", where="FENGQIAO_DATA_KEY")
    assert len(single.keys) == 1
    for bad, says in (("not base64!", "not a key"), ("AAAA", "is 3 bytes; a key is 32"),
                      ('{"current": "x", "keys": {}}', "current key 'x' is not among")):  # fmt: skip
        with pytest.raises(SealError, match=says):
            Keyring.from_text(bad, where="key.json")
