"""Secrets: charge point passwords (scrypt, salted; verified ones remembered per process) and API
tokens (random, stored as SHA-256)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    return "$".join(
        [
            "scrypt",
            str(_SCRYPT_N),
            str(_SCRYPT_R),
            str(_SCRYPT_P),
            base64.b64encode(salt).decode(),
            base64.b64encode(digest).decode(),
        ]
    )


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(
        password.encode(), salt=base64.b64decode(salt_b64), n=int(n), r=int(r), p=int(p)
    )
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


class VerifiedPasswords:
    """Charge point passwords this process has verified with scrypt, kept as a keyed BLAKE2b
    digest (the key is random and never leaves the process), so that a charger reconnecting
    with the same password is checked in microseconds instead of scrypt's 30-40 ms of CPU: a
    fleet reconnecting at once would otherwise cost minutes of CPU. An entry holds only for
    the stored hash it was verified against: a changed password is verified with scrypt again.
    The passwords OCPP's security profiles prescribe are 16-40 random characters, which no
    fast hash makes guessable."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._verified: dict[str, tuple[str, bytes]] = {}  # id -> (stored hash, digest)

    def known(self, charge_point_id: str, stored: str) -> bool:
        """Whether `verify` can answer for this charge point without scrypt."""
        entry = self._verified.get(charge_point_id)
        return entry is not None and entry[0] == stored

    def verify(self, charge_point_id: str, password: str, stored: str) -> bool:
        digest = hashlib.blake2b(password.encode(), key=self._key).digest()
        entry = self._verified.get(charge_point_id)
        if entry is not None and entry[0] == stored:
            return hmac.compare_digest(entry[1], digest)
        if not verify_password(password, stored):
            return False
        self._verified[charge_point_id] = (stored, digest)
        return True


def new_api_token() -> str:
    return "sgv_" + secrets.token_urlsafe(32)


def hash_api_token(token: str) -> str:
    """Tokens carry 256 random bits, so a fast hash is enough to keep them unreadable at rest."""
    return hashlib.sha256(token.encode()).hexdigest()


def parse_basic_auth(header: str | None) -> tuple[str, str] | None:
    """(user, password) from an `Authorization: Basic ...` header, None if absent or malformed."""
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None
