"""Ed25519 signatures on the shared cache's artifacts, as Nix binary caches sign theirs.

Whoever can PUT to the shared cache can also write a sidecar whose sha256
matches what they uploaded, so the sha256 alone proves nothing about who built
an artifact. A build machine that pushes therefore signs the sidecar with its
secret key, and an install takes an artifact from the shared cache only when a
key it trusts has signed it.

Keys use Nix's text formats, so keys made by `nix-store --generate-binary-cache-key`
work here and the other way round:

- public key: `NAME:BASE64`, the 32 raw bytes of the Ed25519 public key
  (`team-ci-1:Ab...=`); what `PYBUILD12_CACHE_TRUST` and the trusted-keys file hold;
- secret key file: `NAME:BASE64` of 64 bytes, the 32-byte seed then the public key.

What is signed (`message`) is the canonical JSON of the metadata that decides what
gets installed, `{"inputs": ..., "key": ..., "sha256": ...}` written with
`json.dumps(sort_keys=True, separators=(",", ":"))` (ASCII, no spaces): the artifact
key the install asks for, the sha256 of the artifact file, and the build inputs the
key was computed from. The signatures go into the sidecar as
`"signatures": [{"key": NAME, "sig": BASE64}]`; several keys may sign one artifact.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping

from pybuild12.core import files
from pybuild12.core.errors import PyBuild12Error, UsageError, quoted
from pybuild12.core.settings import CACHE_TRUST_ENV as TRUST_ENV, SIGNING_KEY_ENV

# cryptography is imported where a key is used: most commands never use one.
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

TRUSTED_FILE = "trusted-keys"  # in the config directory: one public key a line, '#' comments
SECRET_FILE = "signing-key"  # in the config directory: the default key for --push
SIGNED_FIELDS = ("inputs", "key", "sha256")

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+@-]*")
_PUBLIC_HINT = ("a public key reads NAME:BASE64, e.g. team-ci-1:<44 base64 characters>, "
                "as 'pybuild12 cache keygen' prints it")
_SECRET_HINT = "a signing key file holds NAME:BASE64 of 64 bytes, as 'pybuild12 cache keygen NAME' writes it"


class BadKey(PyBuild12Error):
    """A public or secret key that cannot be read: no name, bad base64, wrong length. A
    key is something the user gives (an argument, PYBUILD12_CACHE_TRUST, a key file
    named by a setting): exit 2, as for any malformed input."""

    exit_code = 2


@dataclass(frozen=True)
class PublicKey:
    name: str
    raw: bytes  # 32 bytes

    def __str__(self) -> str:
        return f"{self.name}:{base64.b64encode(self.raw).decode()}"

    def verifies(self, signature: bytes, data: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, data)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class SecretKey:
    name: str
    seed: bytes  # 32 bytes

    @property
    def public(self) -> PublicKey:
        return PublicKey(self.name, _private(self.seed).public_key().public_bytes_raw())

    def text(self) -> str:
        """The key file's content, in Nix's format (seed and public key, 64 bytes)."""
        return f"{self.name}:{base64.b64encode(self.seed + self.public.raw).decode()}\n"

    def sign(self, data: bytes) -> bytes:
        return _private(self.seed).sign(data)


@dataclass(frozen=True)
class Verdict:
    """Whether a sidecar may be trusted; `reason` says why not, naming the keys involved."""

    ok: bool
    reason: str
    signer: str | None = None


def _private(seed: bytes) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(seed)


def generate(name: str) -> SecretKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    check_name(name, origin="the key name")
    return SecretKey(name, Ed25519PrivateKey.generate().private_bytes_raw())


def check_name(name: str, *, origin: str, hint: str = "a number at the end lets you rotate keys") -> None:
    if not _NAME.fullmatch(name):
        raise BadKey(f"{origin}: {quoted(name)} is not a usable key name: {_name_fault(name)}",
                     hint=f"a name is letters, digits and . _ + @ - (no spaces or colons), e.g. team-ci-1; {hint}")


def _name_fault(name: str) -> str:
    if not name:
        return "it is empty"
    if not _NAME.fullmatch(name[0]):
        return f"it begins with {name[0]!r}, not a letter or digit"
    bad = next(c for c in name if not _NAME.fullmatch("a" + c))
    return f"{bad!r} is not allowed in one"


def _split(text: str, *, origin: str, hint: str, echo: bool) -> tuple[str, bytes]:
    """NAME and the decoded bytes of a NAME:BASE64 key; `echo` quotes a malformed one in the message."""
    kind = "public key" if echo else "signing key"
    name, sep, encoded = text.strip().partition(":")
    quoted_key = f"{_shorten(text)!r}" if echo else f"the {kind}"
    if not text.strip():
        raise BadKey(f"{origin}: the {kind} is empty", hint=hint)
    if not sep:
        raise BadKey(f"{origin}: {quoted_key} has no ':' between a name and the key (NAME:BASE64)", hint=hint)
    if not name:
        raise BadKey(f"{origin}: {quoted_key} has no name before its ':' (NAME:BASE64)", hint=hint)
    check_name(name, origin=origin, hint=hint)
    after = f"{_shorten(encoded)!r} after {name + ':'!r}" if echo else f"the part after {name + ':'!r}"
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise BadKey(f"{origin}: {after} is not a {kind}: not valid base64", hint=hint) from None
    return name, raw


def parse_public(text: str, *, origin: str) -> PublicKey:
    name, raw = _split(text, origin=origin, hint=_PUBLIC_HINT, echo=True)
    if len(raw) == 64:
        raise BadKey(f"{origin}: {name!r} is a secret key (64 bytes), not a public one",
                     hint="trust the public key (NAME:BASE64 of 32 bytes) that 'pybuild12 cache keygen' printed, "
                          "and keep the secret one private")
    if len(raw) != 32:
        encoded = text.strip().partition(":")[2]
        raise BadKey(f"{origin}: {_shorten(encoded)!r} after {name + ':'!r} is not a public key: it decodes to "
                     f"{len(raw)} bytes; an Ed25519 public key is 32 (44 base64 characters)", hint=_PUBLIC_HINT)
    return PublicKey(name, raw)


def parse_secret(text: str, *, origin: str) -> SecretKey:
    name, raw = _split(text, origin=origin, hint=_SECRET_HINT, echo=False)
    if len(raw) == 32:
        raise BadKey(f"{origin}: {name!r} is a public key (32 bytes), not a signing key", hint=_SECRET_HINT)
    if len(raw) != 64:
        raise BadKey(f"{origin}: the signing key {name!r} is {len(raw)} bytes long, not 64", hint=_SECRET_HINT)
    key = SecretKey(name, raw[:32])
    if key.public.raw != raw[32:]:
        raise BadKey(f"{origin}: the signing key {name!r} is damaged (its public half does not match)",
                     hint=_SECRET_HINT)
    return key


def _shorten(text: str) -> str:
    """Enough of a malformed key to recognise it, never a whole secret in a message."""
    text = text.strip()
    return text if len(text) <= 16 else text[:12] + "..."


# -- signing and checking ----------------------------------------------------------------------


def message(meta: Mapping[str, Any]) -> bytes:
    """The bytes a signature covers (see the module's docstring)."""
    missing = [f for f in SIGNED_FIELDS if f not in meta]
    if missing:
        raise KeyError(", ".join(missing))
    return json.dumps({f: meta[f] for f in SIGNED_FIELDS}, sort_keys=True, separators=(",", ":")).encode("ascii")


def sign(meta: Mapping[str, Any], key: SecretKey) -> dict[str, Any]:
    """`meta` with `key`'s signature added; another signature by the same key name is replaced."""
    try:
        data = message(meta)
    except KeyError as exc:
        raise PyBuild12Error(f"the artifact {str(meta.get('key', '?'))[:12]} has no {exc.args[0]} in its sidecar: "
                             "it cannot be signed",
                             hint="reinstall it with --force --no-cache so that a complete artifact "
                                  "is packed") from None
    others = [s for s in meta.get("signatures") or [] if isinstance(s, dict) and s.get("key") != key.name]
    mine = {"key": key.name, "sig": base64.b64encode(key.sign(data)).decode()}
    return {**meta, "signatures": [*others, mine]}


def check(meta: Mapping[str, Any], key: str, trusted: Iterable[PublicKey]) -> Verdict:
    """Whether a trusted key signed this sidecar for the artifact `key` (asked for, not claimed)."""
    trusted = list(trusted)
    if meta.get("key") != key:
        return Verdict(False, f"its sidecar is for another artifact ({str(meta.get('key'))[:12]})")
    try:
        data = message(meta)
    except KeyError as exc:
        return Verdict(False, f"its sidecar lacks {exc.args[0]}")
    except (TypeError, ValueError, UnicodeEncodeError):
        return Verdict(False, "its sidecar cannot be serialized for checking")
    signatures = meta.get("signatures")
    if not signatures:
        return Verdict(False, "it is unsigned")
    if not isinstance(signatures, list):
        return Verdict(False, "its signatures are not a list")
    unknown, bad = [], []
    for entry in signatures:
        name = entry.get("key") if isinstance(entry, dict) else None
        candidates = [k for k in trusted if k.name == name]
        if not candidates:
            unknown.append(str(name))
            continue
        if any(k.verifies(_b64(entry.get("sig")), data) for k in candidates):
            return Verdict(True, f"signed by {name}", signer=name)
        bad.append(str(name))
    if bad:
        return Verdict(False, f"the signature by trusted key {', '.join(bad)} does not verify (tampered, or "
                              "signed with another key of that name)")
    return Verdict(False, f"it is signed only by keys not trusted here: {', '.join(unknown)}")


def _b64(value: Any) -> bytes:
    """A signature's bytes; anything that is not base64 becomes bytes no key verifies."""
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        return b""


# -- configuration -------------------------------------------------------------------------------


def trusted_keys(named: str, config: Path) -> list[PublicKey]:
    """The keys whose signatures an install accepts: those `named` (PYBUILD12_CACHE_TRUST,
    Settings.cache_trust), then the trusted-keys file."""
    keys = [parse_public(word, origin=TRUST_ENV) for word in _words(named)]
    path = config / TRUSTED_FILE
    try:
        lines = path.read_text("utf-8").splitlines()
    except FileNotFoundError:
        return keys
    except (OSError, UnicodeDecodeError) as exc:
        raise BadKey(f"cannot read the trusted keys in {path}: {exc}",
                     hint=f"fix or remove that file; {TRUST_ENV} can name the keys instead") from None
    for number, line in enumerate(lines, 1):
        keys += [parse_public(word, origin=f"{path}, line {number}") for word in _words(line.split("#", 1)[0])]
    return keys


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[\s,]+", text) if w]


def signing_key(named: Path | None, config: Path) -> SecretKey | None:
    """The key `--push` signs with: the file `named` (PYBUILD12_CACHE_SIGNING_KEY,
    Settings.signing_key), else the config directory's signing-key file; None when there
    is neither."""
    path = named or config / SECRET_FILE
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        if not named:
            return None
        raise BadKey(f"{SIGNING_KEY_ENV} names {path}, which does not exist",
                     hint="point it at the file 'pybuild12 cache keygen NAME --out FILE' wrote") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadKey(f"cannot read the signing key {path}: {exc}", hint=_SECRET_HINT) from None
    return parse_secret(text, origin=str(path))


def write_secret(path: Path, key: SecretKey, *, force: bool = False) -> Path | None:
    """Write a secret key file readable by its owner only (0600). Never over an existing
    file unless `force`, and then only after copying it to a backup, returned: a lost key
    can no longer sign for the machines that trust it."""
    backup = None
    if path.exists():
        if not force:
            kept = next(b for b in _backups(path) if not b.exists())
            raise UsageError(f"{path} already holds {_describe(path)}: not replacing it",
                             hint="machines that trust it would refuse what a new key signs. To replace it "
                                  f"deliberately, add --force: the old key is kept in {kept}; or write the new key "
                                  "elsewhere with --out FILE")
        backup = _backup(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with files.replacing(path, "w", perms=0o600) as fh:
        fh.write(key.text())
    return backup


def _describe(path: Path) -> str:
    try:
        old = parse_secret(path.read_text("utf-8"), origin=str(path))
    except (OSError, UnicodeDecodeError, BadKey):
        return "a file that is not a signing key pybuild12 can read"
    return f"the signing key {old.name} ({old.public})"


def _backups(path: Path) -> Iterator[Path]:
    yield path.with_name(f"{path.name}.old")
    for number in itertools.count(2):
        yield path.with_name(f"{path.name}.old.{number}")


def _backup(path: Path) -> Path:
    """Copy `path` to the first of `path`.old, .old.2 ... that does not exist."""
    data = path.read_bytes()
    return next(backup for backup in _backups(path) if _write_new(backup, data))


def _write_new(path: Path, data: bytes) -> bool:
    """Write `data` to a new file readable by its owner only; False if `path` exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return True


def add_trusted(config: Path, key: PublicKey) -> tuple[Path, bool]:
    """Append `key` to the trusted-keys file; False when it is there already."""
    path = config / TRUSTED_FILE
    existing = path.read_text("utf-8") if path.exists() else ""
    present = {w for line in existing.splitlines() for w in _words(line.split("#", 1)[0])}
    if str(key) in present:
        return path, False
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        if existing and not existing.endswith("\n"):
            fh.write("\n")
        fh.write(f"{key}\n")
    return path, True
