"""Ed25519 signatures on shared-cache sidecars: keys, signing, checking, configuration, and the CLI."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys

import pytest

from pybuild12.core.errors import PyBuild12Error, UsageError
from pybuild12.core.settings import Settings
from pybuild12.store import signing
from pybuild12.store.signing import BadKey
from test_cli_inprocess import invoke

KEY = "a" * 64


def meta(**changes):
    base = {"key": KEY, "sha256": "b" * 64, "inputs": {"source": "c" * 64, "configure_args": ["--prefix=/x"]},
            "name": "3.13.5", "created": 1.5}
    return {**base, **changes}


def test_a_signed_sidecar_verifies_with_its_public_key():
    secret = signing.generate("team-ci-1")
    signed = signing.sign(meta(), secret)
    assert signed["signatures"][0]["key"] == "team-ci-1"
    verdict = signing.check(signed, KEY, [secret.public])
    assert verdict.ok and verdict.signer == "team-ci-1"


def test_the_message_is_canonical_json_of_key_sha256_and_inputs():
    assert signing.message(meta(name="other", created=9)) == signing.message(meta())
    assert signing.message(meta()) == (
        '{"inputs":{"configure_args":["--prefix=/x"],"source":"' + "c" * 64 + '"},"key":"' + KEY
        + '","sha256":"' + "b" * 64 + '"}').encode()


@pytest.mark.parametrize("field, value", [("sha256", "d" * 64), ("inputs", {"source": "evil"}), ("key", "f" * 64)])
def test_tampered_metadata_is_refused(field, value):
    secret = signing.generate("team-ci-1")
    signed = signing.sign(meta(), secret)
    tampered = {**signed, field: value}
    verdict = signing.check(tampered, tampered["key"], [secret.public])
    assert not verdict.ok and "team-ci-1" in verdict.reason and "does not verify" in verdict.reason


def test_unsigned_unknown_and_wrong_keys_are_refused_by_name():
    signer, other = signing.generate("team-ci-1"), signing.generate("laptop")
    assert signing.check(meta(), KEY, [signer.public]).reason == "it is unsigned"
    unknown = signing.check(signing.sign(meta(), other), KEY, [signer.public])
    assert not unknown.ok and "not trusted here: laptop" in unknown.reason
    impostor = signing.generate("team-ci-1")  # same name, another key
    wrong = signing.check(signing.sign(meta(), impostor), KEY, [signer.public])
    assert not wrong.ok and "trusted key team-ci-1 does not verify" in wrong.reason


def test_a_sidecar_replayed_under_another_key_is_refused():
    secret = signing.generate("team-ci-1")
    signed = signing.sign(meta(), secret)
    verdict = signing.check(signed, "f" * 64, [secret.public])
    assert not verdict.ok and "another artifact" in verdict.reason


def test_several_signatures_one_trusted_is_enough():
    ci, laptop = signing.generate("team-ci-1"), signing.generate("laptop")
    both = signing.sign(signing.sign(meta(), laptop), ci)
    assert [s["key"] for s in both["signatures"]] == ["laptop", "team-ci-1"]
    assert signing.check(both, KEY, [ci.public]).signer == "team-ci-1"
    resigned = signing.sign(both, ci)  # signing again replaces that key's signature
    assert [s["key"] for s in resigned["signatures"]] == ["laptop", "team-ci-1"]


@pytest.mark.parametrize("sig", ["not base64!", "", None, base64.b64encode(b"x" * 64).decode()])
def test_garbage_signatures_do_not_verify(sig):
    secret = signing.generate("team-ci-1")
    verdict = signing.check({**meta(), "signatures": [{"key": "team-ci-1", "sig": sig}]}, KEY, [secret.public])
    assert not verdict.ok and "does not verify" in verdict.reason


def test_sidecar_without_inputs_is_refused_and_cannot_be_signed():
    secret = signing.generate("team-ci-1")
    incomplete = {k: v for k, v in meta().items() if k != "inputs"}
    assert signing.check({**incomplete, "signatures": [{"key": "team-ci-1", "sig": ""}]}, KEY,
                         [secret.public]).reason == "its sidecar lacks inputs"
    with pytest.raises(PyBuild12Error, match="no inputs"):
        signing.sign(incomplete, secret)


def test_keys_round_trip_through_their_text():
    secret = signing.generate("team-ci-1")
    again = signing.parse_secret(secret.text(), origin="test")
    assert again == secret and str(again.public) == str(secret.public)
    assert signing.parse_public(str(secret.public), origin="test") == secret.public
    assert len(base64.b64decode(str(secret.public).split(":")[1])) == 32


PUBLIC_32 = base64.b64encode(b"k" * 32).decode()
MALFORMED_PUBLIC = [  # (what was given, what the message says is wrong with it)
    ("bad:zzz", "'zzz' after 'bad:' is not a public key: not valid base64"),
    ("team-ci-1:not*base64", "'not*base64' after 'team-ci-1:' is not a public key: not valid base64"),
    ("", "the public key is empty"),
    ("   ", "the public key is empty"),
    ("AAAA" * 11, "'AAAAAAAAAAAA...' has no ':' between a name and the key"),
    (":" + PUBLIC_32, "':a2tra2tra2t...' has no name before its ':'"),
    ("team ci:" + PUBLIC_32, "'team ci' is not a usable key name: ' ' is not allowed in one"),
    ("-ci:" + PUBLIC_32, "'-ci' is not a usable key name: it begins with '-', not a letter or digit"),
    ("bad:AAAA", "'AAAA' after 'bad:' is not a public key: it decodes to 3 bytes; an Ed25519 public key is 32 "
     "(44 base64 characters)"),
    ("team-ci-1:" + base64.b64encode(b"k" * 31).decode(), "decodes to 31 bytes; an Ed25519 public key is 32"),
    ("team-ci-1:" + base64.b64encode(b"k" * 64).decode(), "'team-ci-1' is a secret key (64 bytes), not a public one"),
]


@pytest.mark.parametrize("text, message", MALFORMED_PUBLIC)
def test_malformed_public_keys_say_what_is_wrong(text, message):
    with pytest.raises(BadKey) as info:
        signing.parse_public(text, origin="PYBUILD12_CACHE_TRUST")
    assert info.value.message.startswith("PYBUILD12_CACHE_TRUST: ") and message in info.value.message
    assert len(info.value.hint) > 40


def test_malformed_secret_keys_say_what_is_wrong_without_quoting_them():
    secret = signing.generate("team-ci-1")
    with pytest.raises(BadKey, match="public key"):
        signing.parse_secret(str(secret.public), origin="f")
    seed_and_other = base64.b64encode(secret.seed + b"\0" * 32).decode()
    with pytest.raises(BadKey, match="damaged"):
        signing.parse_secret(f"team-ci-1:{seed_and_other}", origin="f")
    body = secret.text().split(":", 1)[1].strip()
    with pytest.raises(BadKey) as info:
        signing.parse_secret(body, origin="f")
    assert "has no ':' between a name and the key" in info.value.message and body[:8] not in info.value.message


def test_trusted_keys_come_from_the_environment_and_the_file(tmp_path):
    a, b, c = (signing.generate(n).public for n in ("a-1", "b-1", "c-1"))
    config = tmp_path / "config"
    config.mkdir()
    (config / signing.TRUSTED_FILE).write_text(f"# the CI fleet\n{b}  # since May\n\n   {c}\n")
    keys = signing.trusted_keys(Settings({signing.TRUST_ENV: f" {a},\n"}).cache_trust, config)
    assert [k.name for k in keys] == ["a-1", "b-1", "c-1"] and keys[0] == a
    assert signing.trusted_keys("", tmp_path / "none") == []


def test_a_malformed_line_of_the_trusted_file_is_named(tmp_path):
    (tmp_path / signing.TRUSTED_FILE).write_text(f"{signing.generate('ok').public}\nteam-ci-1:short\n")
    with pytest.raises(BadKey, match=r"trusted-keys, line 2: 'short' after 'team-ci-1:' is not a public key"):
        signing.trusted_keys("", tmp_path)


def test_the_signing_key_from_the_environment_or_the_config_directory(tmp_path):
    config = tmp_path / "config"
    assert signing.signing_key(None, config) is None
    secret = signing.generate("team-ci-1")
    signing.write_secret(config / signing.SECRET_FILE, secret)
    assert signing.signing_key(None, config) == secret
    other = signing.generate("other-1")
    signing.write_secret(tmp_path / "other.key", other)
    chosen = Settings({signing.SIGNING_KEY_ENV: str(tmp_path / "other.key")}).signing_key
    assert signing.signing_key(chosen, config) == other
    with pytest.raises(BadKey, match="does not exist"):
        signing.signing_key(Settings({signing.SIGNING_KEY_ENV: str(tmp_path / "absent.key")}).signing_key, config)
    (tmp_path / "bad.key").write_text("team-ci-1:AAAA\n")
    with pytest.raises(BadKey, match="3 bytes long, not 64"):
        signing.signing_key(Settings({signing.SIGNING_KEY_ENV: str(tmp_path / "bad.key")}).signing_key, config)


def test_write_secret_is_private_and_never_loses_a_key(tmp_path):
    path = tmp_path / "sub" / "key"
    first = signing.generate("team-ci-1")
    assert signing.write_secret(path, first) is None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.stat()
    with pytest.raises(UsageError) as refused:
        signing.write_secret(path, signing.generate("team-ci-2"))
    assert refused.value.exit_code == 2
    assert str(path) in refused.value.message and str(first.public) in refused.value.message
    assert "--force" in refused.value.hint and f"{path}.old" in refused.value.hint
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_mode) == (before.st_ino, before.st_mtime_ns, before.st_mode)
    assert path.read_text() == first.text()

    second, third = signing.generate("team-ci-2"), signing.generate("team-ci-3")
    assert signing.write_secret(path, second, force=True) == path.with_name("key.old")
    with pytest.raises(UsageError) as refused:
        signing.write_secret(path, third)
    assert f"kept in {path}.old.2;" in refused.value.hint
    assert signing.write_secret(path, third, force=True) == path.with_name("key.old.2")  # never over a backup
    kept = {p.name: signing.parse_secret(p.read_text(), origin="k") for p in path.parent.iterdir()}
    assert kept == {"key": third, "key.old": first, "key.old.2": second}
    assert {stat.S_IMODE(p.stat().st_mode) for p in path.parent.iterdir()} == {0o600}


def test_write_secret_refuses_a_file_that_is_no_key_too(tmp_path):
    path = tmp_path / "key"
    path.write_text("my notes\n")
    with pytest.raises(UsageError, match="not a signing key pybuild12 can read"):
        signing.write_secret(path, signing.generate("team-ci-1"))
    assert path.read_text() == "my notes\n"


def test_add_trusted_appends_once(tmp_path):
    key = signing.generate("team-ci-1").public
    (tmp_path / signing.TRUSTED_FILE).write_text("# ours")  # no final newline
    assert signing.add_trusted(tmp_path, key) == (tmp_path / signing.TRUSTED_FILE, True)
    assert signing.add_trusted(tmp_path, key)[1] is False
    assert (tmp_path / signing.TRUSTED_FILE).read_text() == f"# ours\n{key}\n"
    assert signing.trusted_keys("", tmp_path) == [key]


# -- the command line ---------------------------------------------------------------------------


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pybuild12", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_keygen_writes_a_private_key_and_prints_the_public_one(pybuild12_home):
    made = cli("cache", "keygen", "team-ci-1")
    assert made.returncode == 0, made.stderr
    path = pybuild12_home / "config" / signing.SECRET_FILE
    secret = signing.parse_secret(path.read_text(), origin=str(path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert made.stdout == f"{secret.public}\n"
    assert f"PYBUILD12_CACHE_TRUST='{secret.public}'" in made.stderr and "trusted-keys" in made.stderr
    assert signing.signing_key(None, pybuild12_home / "config") == secret  # what --push will use

    written = path.read_bytes(), path.stat().st_mtime_ns
    again = cli("cache", "keygen", "team-ci-2")
    assert again.returncode == 2 and again.stdout == "" and "Traceback" not in again.stderr
    said = " ".join(again.stderr.split())
    assert f"error: {path} already holds the signing key team-ci-1 ({secret.public})" in said
    assert "hint:" in said and "--force" in said and f"{path}.old" in said
    assert (path.read_bytes(), path.stat().st_mtime_ns) == written
    forced = cli("cache", "keygen", "team-ci-2", "--force")
    assert forced.returncode == 0 and forced.stdout.startswith("team-ci-2:")
    assert f"kept the old key in {path}.old" in " ".join(forced.stderr.split())
    assert signing.parse_secret(path.with_name(f"{path.name}.old").read_text(), origin="k") == secret


def test_keygen_out_says_how_to_use_the_file(tmp_path):
    made = cli("cache", "keygen", "laptop-1", "--out", str(tmp_path / "laptop.key"))
    assert made.returncode == 0, made.stderr
    assert f"PYBUILD12_CACHE_SIGNING_KEY='{tmp_path / 'laptop.key'}'" in made.stderr
    assert signing.parse_secret((tmp_path / "laptop.key").read_text(), origin="k").name == "laptop-1"


def test_keygen_refuses_a_bad_name():
    bad = cli("cache", "keygen", "team:ci")
    assert bad.returncode == 2 and "not a usable key name" in bad.stderr and "Traceback" not in bad.stderr


def test_trust_validates_and_appends(pybuild12_home):
    public = str(signing.generate("team-ci-1").public)
    assert cli("cache", "trust", public).returncode == 0
    again = cli("cache", "trust", public)
    assert again.returncode == 0 and "trusted already" in again.stderr
    assert (pybuild12_home / "config" / signing.TRUSTED_FILE).read_text() == f"{public}\n"
    bad = cli("cache", "trust", public[:-4])
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "NAME:BASE64" in bad.stderr


@pytest.mark.parametrize("text, message", MALFORMED_PUBLIC)
def test_trust_says_what_is_wrong_with_a_malformed_key_and_exits_2(text, message, pybuild12_home):
    refused = invoke("cache", "trust", "--", text)  # '--': a key may begin with '-'
    assert refused.exit_code == UsageError.exit_code, refused.output
    assert refused.stderr.startswith("error: PUBKEY: ") and message in " ".join(refused.stderr.split())
    hint = refused.stderr.split("\nhint: ", 1)[1]
    assert "NAME:BASE64" in hint and "pybuild12 cache keygen" in hint
    assert "Usage:" not in refused.stderr and not (pybuild12_home / "config" / signing.TRUSTED_FILE).exists()


def test_a_malformed_trusted_key_is_an_error_not_a_traceback(tmp_path):
    from fakecpython import make_recipe, make_tarball

    tarball, sha = make_tarball(tmp_path / "src")
    out = cli("install", str(make_recipe(tmp_path, tarball, sha)), "--no-verify",
              env={"PYBUILD12_CACHE_URL": "http://127.0.0.1:9/c", signing.TRUST_ENV: "team-ci-1:AAAA"})
    assert out.returncode == 2, out.stderr  # a malformed key the user gave: a usage error
    assert "PYBUILD12_CACHE_TRUST: 'AAAA' after 'team-ci-1:' is not a public key: it decodes to 3 bytes" \
        in out.stderr
    assert "hint:" in out.stderr and "Traceback" not in out.stderr
