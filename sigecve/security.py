"""Secrets: charge point passwords (scrypt, salted) and API tokens (random, stored as SHA-256)."""

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
