"""Personal data sealed at rest: the parties' names, phones, ID numbers and addresses are
kept encrypted (AES-256-GCM, the ``cryptography`` package), and found by a keyed hash.

A :class:`Keyring` holds the keys by id and names the current one: new data is sealed with
it, and data sealed with any key of the ring opens. Rotating adds a new current key; once
everything is sealed again with it, the old keys can go. A sealed value is text:
``fq1:<key id>:<base64 of the 12-byte nonce and the ciphertext>``. Pure: no database, no
files (workflows.keys finds the keyring).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["PREFIX", "Keyring", "SealError", "is_sealed"]

PREFIX = "fq1:"
_AAD = b"fengqiao parties"
_KEY_BYTES = 32


class SealError(ValueError):
    """A key that is missing, malformed or wrong for what it should open."""


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def _key_id(key: bytes) -> str:
    return hashlib.sha256(b"fengqiao key id" + key).hexdigest()[:8]


@dataclass(frozen=True)
class Keyring:
    current: str
    keys: dict[str, bytes] = field(repr=False)

    @classmethod
    def generate(cls) -> Keyring:
        key = AESGCM.generate_key(bit_length=256)
        return cls(_key_id(key), {_key_id(key): key})

    @classmethod
    def from_text(cls, text: str, *, where: str) -> Keyring:
        """A keyring as kept: JSON ``{"current": id, "keys": {id: base64}}``, or one key
        alone in base64 (32 bytes)."""
        text = text.strip()
        try:
            if text.startswith("{"):
                data = json.loads(text)
                keys = {str(k): base64.b64decode(v, validate=True) for k, v in data["keys"].items()}
                current = str(data["current"])
            else:
                key = base64.b64decode(text, validate=True)
                keys, current = {_key_id(key): key}, _key_id(key)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise SealError(
                f"{where}: not a key: give 32 bytes in base64, or a key file as "
                "`fengqiao keys rotate` writes it"
            ) from None
        if current not in keys:
            raise SealError(f"{where}: the current key {current!r} is not among its keys")
        for key_id, key in keys.items():
            if len(key) != _KEY_BYTES:
                raise SealError(f"{where}: key {key_id!r} is {len(key)} bytes; a key is 32")
        return cls(current, keys)

    def to_text(self) -> str:
        keys = {k: base64.b64encode(v).decode() for k, v in self.keys.items()}
        return json.dumps({"current": self.current, "keys": keys}, indent=2) + "\n"

    def rotated(self) -> Keyring:
        """A new current key; the old ones kept, to open what they sealed."""
        fresh = Keyring.generate()
        return Keyring(fresh.current, {**self.keys, **fresh.keys})

    def only_current(self) -> Keyring:
        return Keyring(self.current, {self.current: self.keys[self.current]})

    def seal(self, plain: bytes) -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(self.keys[self.current]).encrypt(nonce, plain, _AAD)
        return f"{PREFIX}{self.current}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, token: str) -> bytes:
        try:
            key_id, body = token[len(PREFIX) :].split(":", 1)
            raw = base64.b64decode(body, validate=True)
        except ValueError:
            raise SealError("a sealed value is damaged") from None
        key = self.keys.get(key_id)
        if key is None:
            raise SealError(
                f"the parties' data was sealed with key {key_id!r}, which the keyring does not "
                "hold: give the key file it was sealed with"
            )
        try:
            return AESGCM(key).decrypt(raw[:12], raw[12:], _AAD)
        except InvalidTag:
            raise SealError(f"a value sealed with key {key_id!r} does not open with it") from None

    def sealed_with(self, token: str) -> str | None:
        """The id of the key that sealed ``token``."""
        return token[len(PREFIX) :].split(":", 1)[0] if is_sealed(token) else None

    def digest(self, kind: str, value: str) -> str:
        """A keyed hash of a phone or an ID number (as kept: normalised), to find the
        disputes that name it without keeping it in clear; made with the current key."""
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"fengqiao party digest"
        ).derive(self.keys[self.current])
        return hmac.new(derived, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
