"""Using a build from a shell: `run` (exec its python), and `env`'s shims (links named as a
user types them) with the shell code that puts them first on PATH and takes them out again."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Mapping, Sequence

from pybuild12.builder import sanitizers
from pybuild12.core.paths import Paths
from pybuild12.store.registry import Installed

SHELLS = ("bash", "zsh", "fish", "sh")
ADDED = "PYBUILD12_PATH_ADDED"  # the PATH entries `env` added, so that the next `env` or `--unset` takes them out
ACTIVE = "PYBUILD12_ACTIVE"  # the build `env` put on PATH


def exec_python(python: Path, args: Sequence[str]) -> None:
    """Replace this process with the build's python: stdin, stdout, stderr and the exit code
    are its own; a sanitizer build's runtime options are set (the user's own kept after them)."""
    os.environ.update(sanitizers.runtime_env(python, os.environ))
    os.execv(str(python), [str(python), *args])


def shims(paths: Paths, build: Installed) -> Path:
    """`<data>/shims/NAME/`: links named as a user types them (`python`, `pip`, and on a
    free-threaded build `python3.13t` if its bin/ lacks that name) to the build's own
    programs. The build's prefix stays as `make install` left it."""
    directory = paths.shims / build.name
    wanted = shim_links(build)
    directory.mkdir(parents=True, exist_ok=True)
    for name, target in wanted.items():
        _link(directory / name, target)
    for entry in directory.iterdir():
        if entry.name not in wanted:
            entry.unlink()
    return directory


def shim_links(build: Installed) -> dict[str, Path]:
    bin_dir = build.prefix / "bin"
    links = {"python": build.python}
    pip = next((p for p in (bin_dir / "pip3", *sorted(bin_dir.glob("pip3.*"))) if p.exists()), None)
    if pip is not None:
        links["pip"] = pip
    minor = re.match(r"python(\d+\.\d+)", build.python.name)
    if "freethreaded" in build.variants and minor and not (bin_dir / f"python{minor[1]}t").exists():
        links[f"python{minor[1]}t"] = build.python  # a free-threaded debug build has python3.13td only
    return links


def _link(path: Path, target: Path) -> None:
    """`path` -> `target`, replaced in one step (a shell may be looking it up meanwhile)."""
    if path.is_symlink() and os.readlink(path) == str(target):
        return
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.unlink(missing_ok=True)
    os.symlink(target, temporary)
    os.replace(temporary, path)


def default_shell(env: dict | os._Environ | None = None) -> str:
    env = os.environ if env is None else env
    name = Path(env.get("SHELL", "sh")).name
    return name if name in SHELLS else "sh"


# Takes out of PATH the first occurrence of each entry an earlier `env` added (so a
# directory the user had on PATH already stays), by string surgery alone: no word
# splitting, no globbing, the same in bash, zsh (which does not split $PATH), dash.
_POSIX_UNDO = f"""\
if [ -n "${{{ADDED}:-}}" ]; then
    _pybuild12_path=":$PATH:"
    _pybuild12_rest="${ADDED}:"
    while [ -n "$_pybuild12_rest" ]; do
        _pybuild12_dir=${{_pybuild12_rest%%:*}}
        _pybuild12_rest=${{_pybuild12_rest#*:}}
        case $_pybuild12_dir in
            "") ;;
            *) case $_pybuild12_path in
                   *:"$_pybuild12_dir":*)
                       _pybuild12_path=${{_pybuild12_path%%:"$_pybuild12_dir":*}}:${{_pybuild12_path#*:"$_pybuild12_dir":}} ;;
               esac ;;
        esac
    done
    _pybuild12_path=${{_pybuild12_path#:}}
    PATH=${{_pybuild12_path%:}}
    export PATH
    unset _pybuild12_path _pybuild12_rest _pybuild12_dir
fi
"""  # noqa: E501  # shell code that users' shells run as written: a wrapped line would change it

# fish keeps PATH as a list, and splits variables whose name ends in PATH on ':'.
_FISH_UNDO = f"""\
if set -q {ADDED}
    for _pybuild12_dir in ${ADDED}
        if contains -- $_pybuild12_dir $PATH
            set -e PATH[(contains -i -- $_pybuild12_dir $PATH)]
        end
    end
end
"""


def exports(dirs: Sequence[Path], name: str, shell: str, variables: Mapping[str, str] | None = None) -> str:
    """Shell code that puts `dirs` first on PATH, after taking out what an earlier
    `pybuild12 env` added: evaluated twice, it leaves PATH as evaluated once. `variables`
    (a sanitizer build's runtime options) are set as well."""
    variables = variables or {}
    if shell == "fish":
        quoted = " ".join(shlex.quote(str(d)) for d in dirs)
        return (_FISH_UNDO + f"set -gx PATH {quoted} $PATH\nset -gx {ADDED} {quoted}\n"
                f"set -gx {ACTIVE} {shlex.quote(name)}\n"
                + "".join(f"set -gx {k} {shlex.quote(v)}\n" for k, v in variables.items()))
    joined = shlex.quote(":".join(str(d) for d in dirs))
    # `hash -r`: bash and zsh remember where they found `python3` before.
    return (_POSIX_UNDO + f'PATH={joined}"${{PATH:+:$PATH}}"\nexport PATH\n'
            f"{ADDED}={joined}\nexport {ADDED}\n{ACTIVE}={shlex.quote(name)}\nexport {ACTIVE}\n"
            + "".join(f"{k}={shlex.quote(v)}\nexport {k}\n" for k, v in variables.items())
            + "hash -r 2>/dev/null || true\n")


def unsets(shell: str) -> str:
    """Shell code that undoes `exports`: its PATH entries and variables go, the rest stays."""
    if shell == "fish":
        return _FISH_UNDO + f"set -e {ADDED}\nset -e {ACTIVE}\n"
    return _POSIX_UNDO + f"unset {ADDED} {ACTIVE}\nhash -r 2>/dev/null || true\n"
