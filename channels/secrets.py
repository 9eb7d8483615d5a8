"""Channel secrets (mailbox passwords, Shopify webhook secrets): encrypted at rest or named in the env.

Encryption is Fernet (AES-128-CBC + HMAC-SHA256, from the `cryptography` package) under the key in
DEFLECT_SECRET_KEY, so a copy of the database alone reveals no password. A secret given as an environment
variable name is read only when it is used and never stored.
"""

from __future__ import annotations

import os
import re

from cryptography.fernet import Fernet, InvalidToken

from core.errors import InvalidInputError
from core.settings import Settings

ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,99}$")


def new_key() -> str:
    """A fresh key for DEFLECT_SECRET_KEY."""
    return Fernet.generate_key().decode("ascii")


def _fernet(settings: Settings) -> Fernet:
    if settings.secret_key is None:
        raise InvalidInputError(
            "DEFLECT_SECRET_KEY is not set: set it (deflect channels new-key prints one) to store the secret "
            "encrypted, or give the name of an environment variable that holds it instead"
        )
    try:
        return Fernet(settings.secret_key.get_secret_value().encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise InvalidInputError(
            "DEFLECT_SECRET_KEY is not a Fernet key (32 url-safe base64-encoded bytes)"
        ) from exc


def encrypt(settings: Settings, secret: str) -> str:
    return _fernet(settings).encrypt(secret.encode("utf-8")).decode("ascii")


def check_env_name(name: str) -> str:
    if not ENV_NAME.match(name):
        raise InvalidInputError(f"{name!r} is not an environment variable name (A-Z, 0-9, _)")
    return name


def reveal(settings: Settings, *, ciphertext: str | None, env: str | None, what: str) -> str:
    """The clear secret, for the moment it is used; raises InvalidInputError saying what to fix."""
    if env:
        value = os.environ.get(env)
        if not value:
            raise InvalidInputError(f"the {what} is read from ${env}, which is not set in this process")
        return value
    if ciphertext:
        try:
            return _fernet(settings).decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise InvalidInputError(
                f"the stored {what} cannot be decrypted: DEFLECT_SECRET_KEY differs from the key it was "
                "stored under"
            ) from exc
    raise InvalidInputError(f"no {what} configured")
