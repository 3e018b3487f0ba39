"""The README's two commands on fresh machines: minimal Debian bookworm and trixie.

Each machine is a container of a root file system that mmdebstrap makes here
(minbase, with sudo and ca-certificates, as a fresh server install has them, and a
user `dev` with sudo), holding a copy of this checkout as a clone would. As `dev`,
the README's first command runs verbatim, given a release recipe (GitHub, where `main`
comes from, is unreachable here; the tarball comes from a local mirror). Then, from a
login shell as the user would open one: `pybuild12` is on PATH, `which` and `verify`
answer, the system Python holds only what Debian installed, and `scripts/setup
--uninstall` removes pybuild12 but not its builds. The README's second command is run
on a few unit tests: its own set-up (apt, a venv for the test extras) works there too.

CI sets up the machine of this machine's own Debian release (its compiler and C
library are the session build's) as a member of a team whose CI shares its builds: the
environment names the run's shared store (`shared_store`: the session build's artifact,
signed) and the PYBUILD12_HOME it was built in, and the first command installs that
build from the store without compiling. What this proves: the set-up (apt, the venv,
the link, PATH at the next login), the shared store's path on a fresh machine, and the
checks; not a compile there. The other release compiles from source (`3.13.5
--no-pgo`) in the heavy tier (`scripts/test --heavy`), with root without sudo on a
fresh bookworm (a third build). On a machine that is neither, CI compiles trixie.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from containers import Store, ca_bundle, mmdebstrap, need_container_tools, tracked_files
from realbuild import RECIPE, ROOT, TARBALL, sources_dir
from timeline import record_build

pytestmark = pytest.mark.integration

SUITES = ("trixie", "bookworm")


def host_suite() -> str | None:
    """This machine's Debian release, when it is one of SUITES."""
    try:
        fields = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line)
    except OSError:
        return None
    codename = fields.get("VERSION_CODENAME", "").strip('"')
    return codename if codename in SUITES else None


# The suite CI sets up, from the shared store (or, on another host, trixie from source).
FROM_STORE = host_suite()
CI_SUITE = FROM_STORE or "trixie"
USER = "dev"
HOME = f"/home/{USER}"
HOMES = {USER: HOME, "root": "/root"}
HOSTNAME = "fresh-machine"
MACHINE_CA = "/etc/ssl/certs/machine-ca.crt"  # this machine's CA bundle, copied in
SOURCE_ARGS = f"{RECIPE} --no-pgo"  # a quick build from source
# A machine knows its own name (else sudo warns "unable to resolve host" on every call).
HOSTS_HOOK = f'--customize-hook=printf "127.0.0.1 localhost\\n127.0.1.1 {HOSTNAME}\\n" > "$1/etc/hosts"'


def machine_options(sudo: bool = True) -> list[str]:
    """What a fresh server install has beside minbase (with `sudo`: sudo, and a user who may use it)."""
    if not sudo:
        return ["--include=ca-certificates", HOSTS_HOOK]
    return ["--include=sudo,ca-certificates", HOSTS_HOOK,
            f'--customize-hook=chroot "$1" useradd --create-home --shell /bin/bash {USER}',
            f'--customize-hook=echo "{USER} ALL=(ALL) NOPASSWD:ALL" > "$1/etc/sudoers.d/{USER}"']


# Files under the system Python's directories that no Debian package installed (byte
# code that Debian's own py3compile writes is not counted).
NOT_FROM_DEBIAN = r"""
import pathlib, subprocess, sys
packages = subprocess.run(["dpkg-query", "-W", "-f=${Package}\n"], capture_output=True, text=True).stdout.split()
owned = set(subprocess.run(["dpkg-query", "-L", *packages], capture_output=True, text=True).stdout.splitlines())
roots = [p for p in (*pathlib.Path("/usr/lib").glob("python3*"), *pathlib.Path("/usr/local/lib").glob("python3*"))]
for root in roots:
    for path in root.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts and str(path) not in owned:
            print(path)
"""


def readme_commands() -> list[str]:
    """The commands of the README's set-up section, comments dropped."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Set-up on a fresh machine", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, flags=re.S)
    assert block, "the README's set-up section has no sh block"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.split("#", 1)[0].strip()]


@dataclass
class Machine:
    suite: str
    store: Store
    container: str
    setup: subprocess.CompletedProcess
    install_args: str  # what the first command was given
    team: dict[str, str]  # the team's settings in the user's environment (the shared store), if any
    prefix: str  # where the build went

    def run(self, command: str, *, user: str = USER, timeout: int = 600) -> subprocess.CompletedProcess:
        """`command` in a login shell of `user` (`dev`: in the checkout; root: as root)."""
        argv = login_shell(self.store, self.container, command, user=user, in_checkout=user == USER,
                           team=self.team if user == USER else None)
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def login_shell(store: Store, container: str, command: str, *, user: str = USER,
                in_checkout: bool = True, team: dict[str, str] | None = None) -> list[str]:
    """The command line that runs `command` in a login shell of `user` (in the checkout
    of that user's home), with what the machine's network asks of every user: the CA of
    a TLS-inspecting proxy (pip reaches PyPI through it), and the CPython tarball's mirror;
    and with `team`, what a team's member has in their environment (its shared store)."""
    home = HOMES[user]
    env = {"HOME": home, "USER": user, "LOGNAME": user, "PYBUILD12_MIRROR": f"file://{home}/mirror", **(team or {})}
    if ca_bundle() is not None:
        env["PIP_CERT"] = MACHINE_CA
    return store.run_argv(container, "bash", "-lc", command, user=user, env=env,
                          workdir=f"{home}/pybuild12" if in_checkout else None, own_hosts=True)


def fresh_machines(work: Path, suites: tuple[str, ...], *, sudo: bool = True) -> tuple[Store, dict[str, str]]:
    """A store with a fresh machine of each suite: a container each, with the checkout
    and the mirror copied into the home of `dev` (without `sudo`: of root, the only user),
    and the machine's CA bundle."""
    need_container_tools()
    if not (sources_dir() / TARBALL).is_file():
        pytest.fail(f"{sources_dir() / TARBALL} is missing: run scripts/fetch-test-sources")
    tars = {suite: work / f"{suite}.tar" for suite in suites}
    mmdebstrap({suite: (suite, tars[suite], machine_options(sudo)) for suite in suites})
    store = Store.holding(work, {f"localhost/pybuild12-test-fresh:{suite}": tar for suite, tar in tars.items()})
    for tar in tars.values():
        tar.unlink()
    checkout, mirror = work / "checkout", work / "mirror"
    for rel in tracked_files():
        (checkout / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, checkout / rel)
    mirror.mkdir()
    shutil.copy(sources_dir() / TARBALL, mirror / TARBALL)
    containers = {}
    for suite in suites:
        container = store.container(f"localhost/pybuild12-test-fresh:{suite}")
        configured = store.buildah("config", "--hostname", HOSTNAME, container)
        assert configured.returncode == 0, configured.stderr
        owner = USER if sudo else "root"
        for source, target in ((checkout, f"{HOMES[owner]}/pybuild12"), (mirror, f"{HOMES[owner]}/mirror")):
            copied = store.buildah("copy", "--chown", f"{owner}:{owner}", container, str(source), target)
            assert copied.returncode == 0, copied.stderr
        ca = ca_bundle()
        if ca is not None:
            copied = store.buildah("copy", container, str(ca), MACHINE_CA)
            assert copied.returncode == 0, copied.stderr
        containers[suite] = container
    return store, containers


def _suites(heavy: bool) -> tuple[str, ...]:
    return tuple(s for s in SUITES if heavy or s == CI_SUITE)


@pytest.fixture(scope="module")
def machines(request, tmp_path_factory):
    """Each suite's machine after the README's first command ran there as `dev` (all at once;
    the heavy suites only with --heavy): CI's from the shared store, the others from source."""
    suites = _suites(request.config.getoption("--heavy"))
    shared = request.getfixturevalue("shared_store") if FROM_STORE in suites else None
    work = tmp_path_factory.mktemp("fresh")
    store, containers = fresh_machines(work, suites)
    plans = {}
    for suite in suites:
        if suite == FROM_STORE:
            plans[suite] = (" ".join(shared.install_args), shared.env(),
                            f"{shared.home}/data/pythons/{shared.install_args[0]}")
        else:
            plans[suite] = (SOURCE_ARGS, {}, f"{HOME}/.local/share/pybuild12/pythons/{RECIPE}")
    running = {suite: subprocess.Popen(login_shell(store, container, f"{readme_commands()[0]} {plans[suite][0]}",
                                                   team=plans[suite][1]),
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for suite, container in containers.items()}
    made = {}
    try:
        with record_build(f"fresh machines: {', '.join(f'{s} ({plans[s][0]})' for s in suites)}"):
            for suite, proc in running.items():
                out, err = proc.communicate(timeout=3600)
                (work / f"{suite}-setup.log").write_text(err)
                made[suite] = Machine(suite, store, containers[suite],
                                      subprocess.CompletedProcess(proc.args, proc.returncode, out, err), *plans[suite])
    finally:
        for proc in running.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    yield made
    store.remove()


@pytest.fixture(params=[s if s == CI_SUITE else pytest.param(s, marks=pytest.mark.heavy) for s in SUITES])
def machine(request, machines) -> Machine:
    return machines[request.param]


def test_the_readme_starts_with_setup_and_test():
    assert readme_commands()[:2] == ["scripts/setup", "scripts/test"]


def test_the_first_command_sets_up_and_prints_the_python(machine):
    setup = machine.setup
    assert setup.returncode == 0, f"{machine.suite}: {setup.stderr[-4000:]}"
    python = setup.stdout.strip().splitlines()[-1]
    assert python == f"{machine.prefix}/bin/python3.13"
    # What it installed for itself, said so, and where.
    assert f"pybuild12 is {HOME}/.local/bin/pybuild12" in setup.stderr
    assert "not on PATH in this shell" in setup.stderr  # a fresh login's PATH lacks ~/.local/bin until it exists
    assert "unable to resolve host" not in setup.stderr  # the machine knows its name, as a real one does


def test_pybuild12_is_on_path_at_the_next_login_and_verifies(machine):
    found = machine.run(f"command -v pybuild12 && pybuild12 which {RECIPE} && pybuild12 verify {RECIPE}")
    assert found.returncode == 0, found.stdout + found.stderr
    lines = found.stdout.splitlines()
    assert lines[0] == f"{HOME}/.local/bin/pybuild12"
    assert lines[1] == machine.setup.stdout.strip().splitlines()[-1]
    assert "high-level API" in found.stdout and "failed" not in found.stdout


def test_the_team_machine_installed_the_stores_build_without_compiling(machines, real_build):
    if FROM_STORE is None:
        pytest.skip("this machine is neither of SUITES, so no fresh machine can take its build: CI compiled trixie")
    machine = machines[FROM_STORE]
    assert machine.team, "the machine of this host's release set up without the shared store"
    receipt = machine.run(f"cat {machine.prefix}/pybuild12.json")
    assert receipt.returncode == 0, receipt.stderr
    made = json.loads(receipt.stdout)
    assert made["artifact"] == {"key": real_build.receipt["artifact"]["key"], "from_cache": True, "origin": "shared"}
    assert "compile" not in made["timings"] and made["verification"]["ok"] is True


def test_running_it_again_builds_nothing(machine):
    again = machine.run(f"{readme_commands()[0]} {machine.install_args}")
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.strip().splitlines()[-1] == machine.setup.stdout.strip().splitlines()[-1]
    assert "already installed" in again.stderr and "installing:" not in again.stderr and "compile" not in again.stderr


def test_the_system_python_is_left_as_debian_installed_it(machine):
    checked = machine.run("python3 -c 'import pip' 2>&1; python3 -c 'import pybuild12' 2>&1;"
                          f" python3 -c {shlex.quote(NOT_FROM_DEBIAN)}", user="root")
    assert "No module named 'pip'" in checked.stdout, checked.stdout + checked.stderr
    assert "No module named 'pybuild12'" in checked.stdout
    strays = [line for line in checked.stdout.splitlines() if line.startswith("/")]
    assert strays == [], f"files no Debian package installed: {strays[:20]}"


def test_the_second_command_sets_itself_up(machine):
    # The test suite's own set-up (apt for nginx and ccache, a venv with the test extras),
    # then a few unit tests that need no 3.12+ interpreter.
    tested = machine.run(f"{readme_commands()[1]} --quick tests/test_recipes.py tests/test_names.py", timeout=1200)
    assert tested.returncode == 0, tested.stdout[-4000:] + tested.stderr[-2000:]
    assert re.search(r"\d+ passed", tested.stdout), tested.stdout[-2000:]
    assert machine.run("test -x .venv/bin/pytest && ! python3 -c 'import pytest' 2>/dev/null").returncode == 0


def test_setup_uninstall_removes_pybuild12_and_keeps_the_builds(machines):
    machine = machines[CI_SUITE]
    removed = machine.run("scripts/setup --uninstall")
    assert removed.returncode == 0, removed.stderr
    gone = machine.run("command -v pybuild12 || ls -d ~/.local/bin/pybuild12 ~/.local/share/pybuild12/venv")
    assert gone.returncode != 0 and gone.stdout == "", gone.stdout  # neither the command, the link nor the venv
    kept = machine.run(f"{machine.prefix}/bin/python3 -c 'print(42)'")
    assert kept.stdout == "42\n", kept.stderr


@pytest.mark.heavy
def test_the_first_command_as_root_on_a_machine_without_sudo(tmp_path):
    """Root on a fresh bookworm without sudo: the build dependencies go in through apt
    directly and pybuild12 is linked into /usr/local/bin (a whole build: heavy)."""
    store, containers = fresh_machines(tmp_path, ("bookworm",), sudo=False)
    try:
        argv = login_shell(store, containers["bookworm"],
                           f"{readme_commands()[0]} {SOURCE_ARGS} && pybuild12 verify {RECIPE}", user="root")
        done = subprocess.run(argv, capture_output=True, text=True, timeout=3600)
        assert done.returncode == 0, done.stderr[-4000:]
        assert "pybuild12 is /usr/local/bin/pybuild12" in done.stderr and "not on PATH" not in done.stderr
        assert f"/root/.local/share/pybuild12/pythons/{RECIPE}/bin/python3.13" in done.stdout
        assert "high-level API" in done.stdout and "failed" not in done.stdout
    finally:
        store.remove()

