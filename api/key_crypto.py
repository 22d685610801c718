"""API-key material at rest: `hmac-sha256` keys are stored encrypted with a server key that is
not in the database; `ed25519` keys need no secret at all (the row holds the public key).

The server needs the HMAC key (`SHA-256(secret)`, what the client signs with) to verify, so it
keeps it encrypted with AES-256-GCM under a named server key from `API_KEY_ENCRYPTION_KEYS`:

    API_KEY_ENCRYPTION_KEYS="2026-07:<base64url of 32 bytes>,2025-01:<base64url of 32 bytes>"

(a comma list, or a JSON list of strings, of `kid:key`; a kid is 1-32 of `A-Z a-z 0-9 . _ -`).
The first key encrypts new rows, every key decrypts: rotation adds a new key, makes it the first,
and drops the old one once no row uses it (docs/api.md, "Encryption at rest"). A row stores
`encryption_key_id` (the kid) and `secret_ciphertext` = base64url(12-byte nonce || ciphertext ||
tag), with the API key's id as associated data, so a ciphertext can not be moved to another row.

Unset: the server keys are read from a key file, `api-key-encryption.key` next to the SQLite
database (or `./var/` for another database), in the same format; it is generated (one key, mode
0600) on the first start with a warning. Good enough for one machine (`capex serve --demo`): a
leaked database or backup alone still signs nothing, as long as the key file is not copied with it.
Several machines, or a real deployment: set API_KEY_ENCRYPTION_KEYS.

On every start (`reseal_rows`) the API rewrites the rows that are not under the first key: rows of
migration 0002 (a plain `signing_key_hash`, the HMAC key itself) are encrypted and their digest
erased; rows under an older server key are re-encrypted. Until then (e.g. a row written by an
older worker during a rolling upgrade), a plain digest still verifies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, update
from sqlalchemy.engine import make_url
from sqlmodel import Session, col, or_, select

from api import security
from api.tables import ApiKey
from exchange.settings_support import split_list

log = logging.getLogger(__name__)

SETTING = "API_KEY_ENCRYPTION_KEYS"
KEY_FILE_NAME = "api-key-encryption.key"
KID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,32}")
NONCE_BYTES = 12
CACHE_SIZE = 10_000  # decrypted HMAC keys kept in memory


class KeyDecryptionError(Exception):
    """A row's ciphertext can not be opened: its server key is unknown, or it was altered."""


def new_encryption_key() -> str:
    """A fresh server key, base64url of 32 random bytes (`kid:` + this is one entry)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _split(text: str) -> list[str]:
    """The entries of the setting or key file: the settings' own list reading (a comma list or
    a JSON list of strings); a newline separates entries too, as in the key file."""
    try:
        items = split_list(text if text.lstrip().startswith("[") else text.replace("\n", ","))
    except ValueError:
        raise ValueError(f"{SETTING}: not a valid JSON list") from None
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ValueError(f"{SETTING}: a JSON list of strings")
    return [i.strip() for i in items if i.strip()]


def parse_encryption_keys(text: str) -> list[tuple[str, bytes]]:
    """[(kid, 32-byte key)] from `kid:base64url,...`. Errors never repeat the key material."""
    keys: list[tuple[str, bytes]] = []
    for number, entry in enumerate(_split(text), 1):
        kid, sep, encoded = entry.partition(":")
        if not sep or not KID_PATTERN.fullmatch(kid):
            raise ValueError(f"{SETTING}: entry {number} is not kid:key (kid: 1-32 of A-Z a-z 0-9 . _ -)")
        try:
            key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != 32:
            raise ValueError(f"{SETTING}: the key of {kid!r} is not base64url of 32 bytes")
        if any(kid == k for k, _ in keys):
            raise ValueError(f"{SETTING}: the kid {kid!r} is given twice")
        keys.append((kid, key))
    if not keys:
        raise ValueError(f"{SETTING}: no key")
    return keys


@dataclass(frozen=True)
class KeyEncryption:
    """Named AES-256-GCM server keys: the first encrypts, all decrypt."""

    keys: tuple[tuple[str, bytes], ...]
    source: str  # where they came from, for messages: the setting or the key file's path

    @classmethod
    def parse(cls, text: str, source: str = SETTING) -> KeyEncryption:
        return cls(tuple(parse_encryption_keys(text)), source)

    @property
    def primary(self) -> str:
        return self.keys[0][0]

    def knows(self, kid: str) -> bool:
        return any(k == kid for k, _ in self.keys)

    def encrypt(self, plaintext: bytes, associated: bytes) -> tuple[str, str]:
        """(kid, base64url(nonce || ciphertext || tag)) under the primary key."""
        kid, key = self.keys[0]
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(key).encrypt(nonce, plaintext, associated)
        return kid, base64.urlsafe_b64encode(nonce + sealed).decode()

    def decrypt(self, kid: str, ciphertext: str, associated: bytes) -> bytes:
        key = next((k for name, k in self.keys if name == kid), None)
        if key is None:
            raise KeyDecryptionError(f"no server key {kid!r} in {self.source}")
        try:
            blob = base64.urlsafe_b64decode(ciphertext)
            return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], associated)
        except (binascii.Error, ValueError, InvalidTag):
            raise KeyDecryptionError(f"the ciphertext does not open with server key {kid!r}") from None


def key_file_path(database_url: str) -> Path:
    """Where the generated server keys live when API_KEY_ENCRYPTION_KEYS is unset."""
    try:
        url = make_url(database_url)
    except Exception:  # noqa: BLE001 - any URL the engine would refuse anyway
        url = None
    if url is not None and url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            return Path(database).parent / KEY_FILE_NAME
    return Path("var") / KEY_FILE_NAME


def _read_or_create_key_file(path: Path) -> tuple[str, bool]:
    """(content, created). Created atomically (a temporary file linked into place), so workers
    that start together on one machine end with the same key."""
    if path.exists():
        return path.read_text(), False
    path.parent.mkdir(parents=True, exist_ok=True)
    key = new_encryption_key()
    kid = "local-" + hashlib.sha256(key.encode()).hexdigest()[:8]
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as file:
            file.write(f"{kid}:{key}\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            return path.read_text(), False
    finally:
        temporary.unlink(missing_ok=True)
    return path.read_text(), True


def load_key_encryption(setting: str | None, database_url: str) -> KeyEncryption:
    """The server keys from API_KEY_ENCRYPTION_KEYS, or from the key file (made if missing)."""
    if setting:
        return KeyEncryption.parse(setting)
    path = key_file_path(database_url)
    content, created = _read_or_create_key_file(path)
    encryption = KeyEncryption.parse(content, str(path))
    if created:
        log.warning(
            "%s is not set: generated the server key that encrypts API-key secrets at rest in %s "
            "(keep it, and keep it out of database backups; set %s in production, docs/api.md)",
            SETTING,
            path,
            SETTING,
        )
    else:
        log.warning("%s is not set: API-key secrets are encrypted with the server key in %s", SETTING, path)
    return encryption


def _associated(key_id: str) -> bytes:
    return b"capex-api-key:" + key_id.encode()


class ApiKeyVerifier:
    """Checks signatures against a key row, whatever its algorithm; seals new HMAC keys.
    Decrypted HMAC keys are cached in memory by (key id, ciphertext)."""

    def __init__(self, encryption: KeyEncryption) -> None:
        self.encryption = encryption
        self._hmac_keys: dict[tuple[str, str], bytes] = {}

    def seal(self, key_id: str, hmac_key: bytes) -> tuple[str, str]:
        """(encryption_key_id, secret_ciphertext) of an HMAC key for the row `key_id`."""
        return self.encryption.encrypt(hmac_key, _associated(key_id))

    def hmac_key(self, row: ApiKey) -> bytes:
        """The HMAC key of an `hmac-sha256` row. Raises KeyDecryptionError."""
        if row.secret_ciphertext and row.encryption_key_id:
            cache_key = (row.key_id, row.secret_ciphertext)
            key = self._hmac_keys.get(cache_key)
            if key is None:
                key = self.encryption.decrypt(
                    row.encryption_key_id, row.secret_ciphertext, _associated(row.key_id)
                )
                if len(self._hmac_keys) >= CACHE_SIZE:
                    self._hmac_keys.clear()
                self._hmac_keys[cache_key] = key
            return key
        if row.signing_key_hash:  # a row of migration 0002 that reseal_rows has not reached yet
            try:
                return bytes.fromhex(row.signing_key_hash)
            except ValueError:
                pass
        raise KeyDecryptionError(f"the API key {row.key_id!r} holds no key material")

    def matches(self, row: ApiKey, message: bytes, signature: str) -> bool:
        """Whether `signature` (hex) signs `message` with this key. A row whose material can not
        be read (unknown server key) matches nothing, and says so in the log."""
        if not security.valid_signature(signature):
            return False
        if row.algorithm == security.ED25519:
            if not row.public_key:
                return False
            return security.ed25519_matches(bytes.fromhex(row.public_key), message, signature)
        if row.algorithm != security.HMAC_SHA256:
            return False
        try:
            key = self.hmac_key(row)
        except KeyDecryptionError as exc:
            log.error("API key %s can not be verified: %s", row.key_id, exc)
            return False
        return security.hmac_matches(key, message, signature)


def reseal_rows(engine: Engine, verifier: ApiKeyVerifier) -> dict[str, int]:
    """Encrypt the plain digests of migration 0002 and re-encrypt rows under an older server key,
    with the primary key. Each update is conditional on the row being unchanged, so workers that
    start together do not undo each other. Counts: sealed (plain digests), rotated, unreadable."""
    primary = verifier.encryption.primary
    counts = {"sealed": 0, "rotated": 0, "unreadable": 0}
    with Session(engine) as session:
        rows = session.exec(
            select(ApiKey).where(
                ApiKey.algorithm == security.HMAC_SHA256,
                or_(
                    col(ApiKey.signing_key_hash).is_not(None),
                    col(ApiKey.encryption_key_id).is_(None),
                    ApiKey.encryption_key_id != primary,
                ),
            )
        ).all()
        for row in rows:
            legacy = row.signing_key_hash is not None
            try:
                key = verifier.hmac_key(row)
            except KeyDecryptionError as exc:
                counts["unreadable"] += 1
                log.error("API key %s is not re-encrypted: %s", row.key_id, exc)
                continue
            kid, ciphertext = verifier.seal(row.key_id, key)
            unchanged = [
                col(ApiKey.key_id) == row.key_id,
                col(ApiKey.signing_key_hash).is_(None)
                if row.signing_key_hash is None
                else col(ApiKey.signing_key_hash) == row.signing_key_hash,
                col(ApiKey.secret_ciphertext).is_(None)
                if row.secret_ciphertext is None
                else col(ApiKey.secret_ciphertext) == row.secret_ciphertext,
            ]
            session.execute(
                update(ApiKey)
                .where(*unchanged)
                .values(signing_key_hash=None, encryption_key_id=kid, secret_ciphertext=ciphertext)
            )
            counts["sealed" if legacy else "rotated"] += 1
        session.commit()
    if counts["sealed"] or counts["rotated"]:
        log.warning(
            "API keys at rest: %d plain digests encrypted, %d re-encrypted with server key %r",
            counts["sealed"],
            counts["rotated"],
            primary,
        )
    if counts["unreadable"]:
        log.error(
            "%d API keys are under a server key missing from %s: they authenticate nothing until it is back",
            counts["unreadable"],
            verifier.encryption.source,
        )
    return counts
