"""The stores a build leaves behind: `pybuild12 cache` (artifacts, signing keys) and
`pybuild12 profile` (recorded PGO profiles)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Optional

import typer

from pybuild12.cli.common import command_group, err, escape, interruptible, out, settings
from pybuild12.cli.usage import PlainUsage
from pybuild12.core.errors import UsageError

cache_app = typer.Typer(
    help="The artifact cache: verified builds, packed, reinstalled in seconds.\n\n"
    "A shared cache (PYBUILD12_CACHE_URL) is used only for artifacts signed by a trusted key: "
    "'cache keygen NAME' makes a signing key for the machines that --push (or PYBUILD12_CACHE_SIGNING_KEY "
    "names one), 'cache trust NAME:KEY' trusts its public key on the machines that install "
    "(or PYBUILD12_CACHE_TRUST='NAME:KEY ...').",
    no_args_is_help=True,
)


@cache_app.command("list")
@interruptible
def cache_list(as_json: bool = typer.Option(False, "--json", help="Print JSON to stdout.")) -> None:
    """Show the cached artifacts: build name, version, size, age, key.

    Also says how many `compat` results are kept."""
    from rich.table import Table  # lazy: for this command only

    from pybuild12.checks import compatscan  # lazy: the kept compat results
    from pybuild12.cli.console import duration  # lazy: beside rich's progress display
    from pybuild12.store import artifacts  # lazy: zstandard, for the cache commands only

    paths = settings().paths
    items = list(artifacts.Cache(paths.artifacts))
    if as_json:
        out.print_json(json.dumps([{"key": a.key, "name": a.meta.get("name"), "version": a.meta.get("version"),
                                    "size": a.size, "created": a.created, "path": str(a.path)}
                                   for a in items]))
        return
    table = Table(box=None)
    for col in ("name", "version", "size", "age", "key"):
        table.add_column(col)
    for a in items:
        age = duration(max(0.0, time.time() - (a.created or time.time())))
        table.add_row(a.name, a.version, f"{a.size / 1e6:.0f} MB", age,
                      a.key[:16])
    out.print(table if items else "the artifact cache is empty")
    verdicts = compatscan.kept_results(paths.cache / "compat")
    if verdicts:
        err.print(f"and {verdicts} kept compat result(s) ('pybuild12 compat --refresh' probes again)")


@cache_app.command("clear")
@interruptible
def cache_clear() -> None:
    """Delete every cached artifact and PGO profile; installed builds are not touched.

    Also deletes the builds kept after a failed verification and the kept `compat` results."""
    from pybuild12.checks import compatscan  # lazy: the kept compat results
    from pybuild12.store import artifacts, profiles  # lazy: zstandard, for the cache commands only

    paths = settings().paths
    gone = artifacts.Cache(paths.artifacts).clear()
    gone_profiles = profiles.Store(paths.profiles).clear()
    kept = sorted(paths.kept.iterdir()) if paths.kept.is_dir() else []
    for path in kept:
        shutil.rmtree(path)
    verdicts = compatscan.clear_cache(paths.cache / "compat")
    err.print(f"removed {len(gone)} artifact(s), {len(gone_profiles)} PGO profile(s), {len(kept)} kept build(s) "
              f"and {verdicts} kept compat result(s)")


@cache_app.command("prune")
@interruptible
def cache_prune(
    older_than: float = typer.Option(
        30, "--older-than", metavar="DAYS", min=0, help="Remove artifacts and profiles older than this many days.",
    ),
) -> None:
    """Delete cached artifacts and recorded PGO profiles older than --older-than days."""
    from pybuild12.store import artifacts, profiles  # lazy: zstandard, for the cache commands only

    paths = settings().paths
    gone = artifacts.Cache(paths.artifacts).prune(older_than * 86400)
    gone_profiles = profiles.Store(paths.profiles).prune(older_than * 86400)
    err.print(f"removed {len(gone)} artifact(s) and {len(gone_profiles)} PGO profile(s) older than {older_than:g} days")


@cache_app.command("keygen", cls=PlainUsage)
@interruptible
def cache_keygen(
    name: str = typer.Argument(
        ..., metavar="NAME", help="The key's name, e.g. team-ci-1 (a number lets you rotate keys).",
    ),
    out_file: Optional[Path] = typer.Option(
        None, "--out", metavar="FILE",
        help="Where to write the secret key [default: the config directory's signing-key, which --push uses].",
    ),
    force: bool = typer.Option(
        False, "--force", help="Replace an existing key file, keeping the old key beside it (FILE.old).",
    ),
) -> None:
    """Make an Ed25519 signing key for --push; print its public key for the machines that install.

    The secret key file (mode 0600, Nix's format) stays on the machines that push;
    the public key line goes to stdout. An existing key file is never replaced unasked:
    --force replaces it and keeps the old key beside it (FILE.old, FILE.old.2 ...).
    """
    from pybuild12.store import signing  # lazy: cryptography, for the signing commands only

    config = settings().paths.config
    try:
        secret = signing.generate(name)
    except signing.BadKey as exc:
        raise UsageError(exc.message, hint=exc.hint) from None
    path = out_file if out_file is not None else config / signing.SECRET_FILE
    backup = signing.write_secret(path, secret, force=force)
    public = str(secret.public)
    if backup is not None:
        err.print(f"kept the old key in {escape(str(backup))}: machines that trust it refuse what {escape(name)} "
                  f"signs until they trust {escape(name)} too")
    out.print(escape(public))
    err.print(f"wrote the signing key {escape(name)} to {escape(str(path))} (mode 0600): "
              "keep it on the machines that --push")
    if out_file is not None and path.absolute() != (config / signing.SECRET_FILE).absolute():
        err.print(f"--push signs with it when {signing.SIGNING_KEY_ENV}='{escape(str(path.absolute()))}'")
    err.print("machines that install from the shared cache trust it with either of:\n"
              f"  export {signing.TRUST_ENV}='{public}'\n"
              f"  pybuild12 cache trust '{public}'    (appends it to {escape(str(config / signing.TRUSTED_FILE))})")


@cache_app.command("trust", cls=PlainUsage)
@interruptible
def cache_trust(
    pubkey: str = typer.Argument(..., metavar="PUBKEY", help="A public key as 'cache keygen' prints it: NAME:BASE64."),
) -> None:
    """Trust the artifacts a key signs: append its public key to the trusted-keys file."""
    from pybuild12.store import signing  # lazy: cryptography, for the signing commands only

    try:
        key = signing.parse_public(pubkey, origin="PUBKEY")
    except signing.BadKey as exc:
        raise UsageError(exc.message, hint=exc.hint) from None
    path, added = signing.add_trusted(settings().paths.config, key)
    if added:
        err.print(f"trusted {escape(key.name)}: added to {path}; installs now take shared-cache artifacts it signed")
    else:
        err.print(f"{escape(key.name)} is trusted already ({path})")


@cache_app.command("export", cls=PlainUsage)
@interruptible
def cache_export(
    name: str = typer.Argument(..., metavar="NAME", help="Name of an installed build."),
    to: Path = typer.Option(..., "--to", metavar="DIR", help="The directory to copy it into (made if absent)."),
    sign: bool = typer.Option(
        False, "--sign", help="Sign its sidecar with the signing key (PYBUILD12_CACHE_SIGNING_KEY or the config "
        "directory's signing-key), for importers that ask for a trusted signature (cache import --signed).",
    ),
) -> None:
    """Copy an installed build's artifact and its sidecar into --to DIR, for a CI cache to save.

    `pybuild12 cache import DIR` takes it in on the next run."""
    from pybuild12.store import artifacts, names, signing, transfer  # lazy: zstandard, cryptography

    paths = settings().paths
    installed = names.get(paths, name)
    key = ((installed.receipt.artifact if installed.receipt else None) or {}).get("key")
    artifact = artifacts.Cache(paths.artifacts).get(key) if key else None
    if artifact is None:
        raise UsageError(f"the artifact cache has no artifact of {installed.name}"
                         + (f" (key {key[:12]})" if key else ""),
                         hint=f"it was installed with --no-cache, or the cache was cleared since; 'pybuild12 install "
                         f"{installed.name} --force' packs it again")
    signer = None
    if sign:
        signer = signing.signing_key(settings().signing_key, paths.config)
        if signer is None:
            raise UsageError(f"--sign needs a signing key: set {signing.SIGNING_KEY_ENV} to a key file, or create "
                             f"{paths.config / signing.SECRET_FILE} ('pybuild12 cache keygen NAME')")
    target = transfer.export_to(artifact, to, signer=signer)
    err.print(f"exported {escape(installed.name)} (artifact {artifact.key[:12]}, {artifact.size / 1e6:.0f} MB"
              f"{', signed by ' + escape(signer.name) if signer else ''}) to {escape(str(to))}")
    out.print(str(target))


@cache_app.command("import", cls=PlainUsage)
@interruptible
def cache_import(
    directory: Path = typer.Argument(..., metavar="DIR", help="A directory 'cache export' wrote into."),
    signed: bool = typer.Option(
        False, "--signed", help="Take only artifacts signed by a trusted key (PYBUILD12_CACHE_TRUST, 'cache trust').",
    ),
) -> None:
    """Take the artifacts of DIR (a restored CI cache) into the artifact cache, each checked.

    Nothing is trusted for being in DIR: an artifact whose archive differs from its
    sidecar's sha256 (or, with --signed, that no trusted key signed) is refused with a
    warning; one taken in is unpacked with every member vetted and compared file by file
    with its manifest by the install that uses it, which builds from source if anything
    differs. Refusals are warnings: the install that follows builds instead (exit 0).
    """
    from pybuild12.store import artifacts, signing, transfer  # lazy: zstandard, cryptography

    paths = settings().paths
    if not directory.is_dir():
        err.print(f"nothing to import: {escape(str(directory))} is not a directory")
        return
    trusted = signing.trusted_keys(settings().cache_trust, paths.config) if signed else []
    outcomes = transfer.import_from(directory, artifacts.Cache(paths.artifacts), trusted=trusted, signed=signed)
    for outcome in outcomes:
        if not outcome.ok:
            err.print(f"[yellow]warning:[/] artifact {outcome.key[:12]} in {escape(str(directory))} refused: "
                      f"{escape(outcome.reason)}; it is not used")
    taken = [o for o in outcomes if o.ok]
    err.print(f"imported {len(taken)} artifact(s), refused {len(outcomes) - len(taken)}")
    for outcome in taken:
        out.print(outcome.key)


profile_app = typer.Typer(
    help="Recorded PGO profiles: the training run's data, reused so optimized rebuilds skip it.\n\n"
    "Every --enable-optimizations build records its profile; a later build of the same sources, configure "
    "options and compiler compiles straight with it. Export one to build elsewhere with "
    "'pybuild12 install RECIPE --pgo-profile FILE' (e.g. for reproducible images).",
    no_args_is_help=True,
)


@profile_app.command("export", cls=PlainUsage)
@interruptible
def profile_export(
    name: str = typer.Argument(..., metavar="NAME", help="Name of an installed build."),
    file: Path = typer.Argument(..., metavar="FILE", help="Where to write the profile (a .tar.zst file)."),
) -> None:
    """Write the PGO profile an installed build was compiled with to FILE."""
    from pybuild12.store import names, profiles  # lazy: name resolution; zstandard, for the profile commands only

    paths = settings().paths
    installed = names.get(paths, name)
    name = installed.name
    profile = profiles.of_build(profiles.Store(paths.profiles), name, installed.receipt)
    profiles.export(profile, file)
    err.print(f"exported the PGO profile of {escape(name)} ({profile.meta.get('files', '?')} .gcda files, "
              f"{file.stat().st_size / 1e6:.1f} MB) to {file}")


@profile_app.command("list")
@interruptible
def profile_list(as_json: bool = typer.Option(False, "--json", help="Print JSON to stdout.")) -> None:
    """Show the recorded PGO profiles: source, files, age, key."""
    from rich.table import Table  # lazy: for this command only

    from pybuild12.cli.console import duration  # lazy: beside rich's progress display
    from pybuild12.store import profiles  # lazy: zstandard, for the profile commands only

    items = list(profiles.Store(settings().paths.profiles))
    if as_json:
        out.print_json(json.dumps([{"key": p.key, "source": p.meta["inputs"].get("source"),
                                    "files": p.meta.get("files"), "created": p.meta.get("created"),
                                    "path": str(p.path)} for p in items]))
        return
    table = Table(box=None)
    for col in ("source", "files", "age", "key"):
        table.add_column(col)
    for p in items:
        age = duration(max(0.0, time.time() - p.meta.get("created", time.time())))
        table.add_row(str(p.meta.get("source", {}).get("url", p.meta["inputs"].get("source", "?"))).rsplit("/", 1)[-1],
                      str(p.meta.get("files", "?")), age, p.key[:16])
    out.print(table if items else "no PGO profile recorded")


commands = command_group()
commands.add_typer(cache_app, name="cache")
commands.add_typer(profile_app, name="profile")
