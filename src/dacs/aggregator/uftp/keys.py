"""Ed25519 keys as UFTP uses them: base64 text, 64-byte secrets for signing."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from nacl.signing import SigningKey

from .errors import UftpConfigError


def generate_keypair() -> tuple[str, str]:
    """A new key pair as base64 text: (64-byte signing secret, 32-byte public key)."""
    key = SigningKey.generate()
    secret = bytes(key) + bytes(key.verify_key)
    return _b64(secret), _b64(bytes(key.verify_key))


def signing_secret(text: str) -> str:
    """Normalise a base64 seed (32 B) or secret (64 B) to the 64-byte secret libsodium signs with."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as err:
        raise UftpConfigError(f"the signing key is not base64: {err}") from err
    if len(raw) == 32:
        key = SigningKey(raw)
        return _b64(raw + bytes(key.verify_key))
    if len(raw) == 64:
        if bytes(SigningKey(raw[:32]).verify_key) != raw[32:]:
            raise UftpConfigError(
                "the signing key's public half does not belong to its seed"
            )
        return _b64(raw)
    raise UftpConfigError(
        f"the signing key must be 32 or 64 bytes, this one has {len(raw)}"
    )


def public_key(secret: str) -> str:
    """The base64 public (verify) key of a signing secret or seed."""
    raw = base64.b64decode(signing_secret(secret))
    return _b64(raw[32:])


def load_signing_secret(path: Path) -> str:
    """Read a signing key file (base64 text) and return the 64-byte secret."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise UftpConfigError(f"cannot read the signing key {path}: {err}") from err
    return signing_secret(text)


def check_public_key(text: str, where: str) -> str:
    """A 32-byte base64 public key, or a UftpConfigError naming ``where``."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as err:
        raise UftpConfigError(f"{where}: the public key is not base64") from err
    if len(raw) != 32:
        raise UftpConfigError(f"{where}: a public key has 32 bytes, not {len(raw)}")
    return _b64(raw)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
