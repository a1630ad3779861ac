"""Operator passwords: argon2id hashes through ``argon2-cffi``, and generated passwords.

Contract:
- :class:`Passwords` hashes with argon2id (``argon2-cffi``'s :class:`PasswordHasher`,
  RFC 9106 low-memory profile by default: 64 MiB, 3 passes, 4 lanes) and verifies;
  :meth:`Passwords.verify` returns ``False`` for a wrong password or an unreadable hash and
  never raises for them; :meth:`Passwords.needs_rehash` tells when a stored hash was made with
  other parameters (rehashed at the next sign-in). Tests may pass cheaper parameters.
- :meth:`Passwords.dummy_verify` spends the time of a verification, so that an unknown
  operator name takes as long to refuse as a wrong password.
- :func:`check_new_password` refuses a password shorter than :data:`MIN_LENGTH` characters
  or one that is all blanks (``OperatorError``).
- :func:`generate_password` is a one-time password of 16 characters from an alphabet
  without look-alikes (about 90 bits), drawn with :mod:`secrets`.
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ...errors import OperatorError

MIN_LENGTH = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class Passwords:
    """argon2id hashing and verification (module contract)."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        self._dummy: str | None = None  # made at the first use: building an app costs nothing

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        try:
            return self.hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    def dummy_verify(self, password: str) -> None:
        if self._dummy is None:
            self._dummy = self.hasher.hash(secrets.token_hex(16))
        self.verify(self._dummy, password)


def check_new_password(password: str) -> str:
    if len(password) < MIN_LENGTH or not password.strip():
        raise OperatorError(f"a password needs at least {MIN_LENGTH} characters")
    return password


def generate_password() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(16))
