"""Encryption of secrets at rest (Fernet from `cryptography`, with key rotation)."""

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


def _derived_key(secret_key: str) -> bytes:
    # Development fallback only: production refuses to start without ENCRYPTION_KEYS.
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"helpdesk-secrets")
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


def _fernet() -> MultiFernet:
    keys = [k.strip() for k in current_app.config.get("ENCRYPTION_KEYS", "").split(",") if k.strip()]
    if not keys:
        keys = [_derived_key(current_app.config["SECRET_KEY"]).decode()]
    return MultiFernet([Fernet(k) for k in keys])


def encrypt(plaintext: str) -> str:
    """Encrypt a secret with the newest key."""
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str | None:
    """Decrypt a secret; None when no configured key can read it."""
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        return None


def rotate(ciphertext: str) -> str:
    """Re-encrypt a secret with the newest key."""
    return _fernet().rotate(ciphertext.encode()).decode()
