"""ensurepip for a staged install: pip goes into the staging root whatever the prefix holds.

Run by the build tree's interpreter, as CPython's `make install` runs ensurepip:

    python ensurepip_again.py upgrade|install ROOT [PIP-OPTION...]

That interpreter sees the site-packages of the final prefix. When an earlier
build installed there already has the same pip, pip answers "Requirement
already satisfied" and installs nothing under ROOT, so the new build would
have no pip. This runs ensurepip's own bootstrap (same wheel, same scripts)
with pip's --ignore-installed added, and the PIP-OPTIONs given (--no-compile: no .pyc
when `make install` compiles none either).
"""

import ensurepip
import sys


def main() -> int:
    mode, root, options = sys.argv[1], sys.argv[2], sys.argv[3:]
    run_pip = getattr(ensurepip, "_run_pip", None)
    if run_pip is not None:
        def run_pip_ignoring_installed(args, *rest, **kwargs):
            if args[:1] == ["install"]:
                args = ["install", "--ignore-installed", *options, *args[1:]]
            return run_pip(args, *rest, **kwargs)

        ensurepip._run_pip = run_pip_ignoring_installed
    ensurepip.bootstrap(root=root, upgrade=mode == "upgrade")
    return 0


if __name__ == "__main__":
    sys.exit(main())
