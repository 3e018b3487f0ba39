"""The package layout holds: arrows point down the layers, no cycles, no hidden ones.

Layers, bottom to top: core, request, sources, build, store, checks, then the two
flows (install, devenv), then cli. A module may import its own package and the
layers below it; an import inside a function is allowed only as a lazy import for
start-up speed, said so in the statement (`# lazy`); lazy imports still point down and
count for cycles.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pybuild12"
LAYERS = {"core": 0, "request": 1, "sources": 2, "builder": 3, "store": 4, "checks": 5, "install": 6, "devenv": 6,
          "cli": 7}
MAX_LINES = 420


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "resources" in path.relative_to(PACKAGE).parts:
            continue  # run inside the built interpreter, never imported by pybuild12
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> list[tuple[str, int, bool, str]]:
    """(imported module, line, inside a function, the statement's text) for each pybuild12 import."""
    text = path.read_text("utf-8")
    lines = text.splitlines()
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.ImportFrom) and child.level == 0 and (child.module or "").startswith("pybuild12"):
                for alias in child.names:
                    target = f"{child.module}.{alias.name}"
                    found.append((target if target in MODULES else child.module, child.lineno, inner,
                                  "\n".join(lines[child.lineno - 1:child.end_lineno])))
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.startswith("pybuild12"):
                        found.append((alias.name, child.lineno, inner,
                                      "\n".join(lines[child.lineno - 1:child.end_lineno])))
            visit(child, inner)

    visit(ast.parse(text), False)
    return found


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 else None


def test_every_module_is_in_a_layer():
    for name in MODULES:
        if name in ("pybuild12", "pybuild12.__main__"):
            continue
        assert _layer(name) is not None, f"{name} is in no layer of {sorted(LAYERS)}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_point_down(name):
    mine = _layer(name)
    for target, line, _, _ in _imports(MODULES[name]):
        theirs = _layer(target)
        if mine is None or theirs is None:
            continue
        assert theirs <= mine, f"{name}:{line} imports {target}, a layer above it"
        if theirs == mine and target.split(".")[1] != name.split(".")[1]:
            pytest.fail(f"{name}:{line} imports {target}, a package beside it in the same layer")


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_import_inside_a_function_but_a_lazy_one(name):
    for target, line, inner, text in _imports(MODULES[name]):
        if inner:
            assert "# lazy" in text, \
                f"{name}:{line} imports {target} inside a function; move the shared piece down instead"


def test_no_cycles():
    graph = {name: {t for t, _, _, _ in _imports(path) if t in MODULES and t != name} for name, path in MODULES.items()}
    # A package's __init__ re-exports its modules; the arrow from a module back up to its
    # own package's __init__ is that re-export, not a cycle of work.
    for name in graph:
        graph[name] = {t for t in graph[name] if not name.startswith(t + ".")}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join(path[path.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


def test_modules_stay_small():
    big = {name: n for name, path in MODULES.items() if (n := len(path.read_text("utf-8").splitlines())) > MAX_LINES}
    assert not big, f"over {MAX_LINES} lines: {big}"


def test_the_layout_test_sees_a_cycle_and_an_upward_import(tmp_path):
    """The checks above can fail: a made-up pair of modules that import each other."""
    (tmp_path / "a.py").write_text("from pybuild12.store import b\n")
    (tmp_path / "b.py").write_text("def f():\n    from pybuild12.core import a\n")
    fake = {"pybuild12.core.a": tmp_path / "a.py", "pybuild12.store.b": tmp_path / "b.py"}
    globals()["MODULES"], saved = fake, MODULES
    try:
        with pytest.raises(AssertionError, match="a layer above it"):
            test_imports_point_down("pybuild12.core.a")
        with pytest.raises(AssertionError, match="inside a function"):
            test_no_import_inside_a_function_but_a_lazy_one("pybuild12.store.b")
        with pytest.raises(pytest.fail.Exception, match="import cycle"):
            test_no_cycles()
    finally:
        globals()["MODULES"] = saved


# Below the CLI, os.environ is read only as the environment a child process gets (the
# caller passed none): never for a setting, which core/settings.py reads.
ENVIRON_AS_CHILD_ENVIRONMENT = {
    "pybuild12.builder.preflight",  # compilers and pkg-config run with the caller's PATH and flags
    "pybuild12.builder.sanitizers",  # a sanitizer build's python runs with the caller's options after its own
    "pybuild12.checks.suite",  # CPython's tests run in a cleaned copy of the environment
    "pybuild12.checks.compatprobe",  # the probes run without PYTHON_GIL/PYTHONPATH/PYTHONHOME
    "pybuild12.core.runner",  # which program PATH finds
    "pybuild12.devenv.shellenv",  # the user's SHELL, to print shell code it reads
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_the_environment_is_read_for_settings_in_one_place(name):
    if name == "pybuild12.core.settings" or name.startswith("pybuild12.cli"):
        return
    text = MODULES[name].read_text("utf-8")
    reads = "os.environ" in text or "getenv(" in text
    assert not reads or name in ENVIRON_AS_CHILD_ENVIRONMENT, \
        f"{name} reads the environment: take the value from core/settings.py's Settings instead"


# GitHub's Python .gitignore (github/gitignore, Python.gitignore), the patterns a project
# that adopts it, and the tools that skip build output, would apply to this tree. Its
# unanchored `build/` once hid the package `pybuild12/build/` (now `builder/`).
PYTHON_GITIGNORE = """
__pycache__/ *.py[cod] *$py.class *.so .Python env/ build/ develop-eggs/ dist/ downloads/ eggs/ .eggs/ lib/
lib64/ parts/ sdist/ var/ wheels/ share/python-wheels/ *.egg-info/ .installed.cfg *.egg MANIFEST *.manifest
*.spec pip-log.txt pip-delete-this-directory.txt htmlcov/ .tox/ .nox/ .coverage .coverage.* .cache
nosetests.xml coverage.xml *.cover *.py,cover .hypothesis/ .pytest_cache/ cover/ *.mo *.pot *.log
local_settings.py db.sqlite3 db.sqlite3-journal instance/ .webassets-cache .scrapy docs/_build/
.pybuilder/ target/ .ipynb_checkpoints profile_default/ ipython_config.py .pdm.toml __pypackages__/
celerybeat-schedule celerybeat.pid *.sage.py .env .venv venv/ ENV/ env.bak/ venv.bak/ .spyderproject
.spyproject .ropeproject /site .mypy_cache/ .dmypy.json dmypy.json .pyre/ .pytype/ cython_debug/
""".split()


def test_no_tracked_file_is_one_the_standard_python_gitignore_hides(tmp_path):
    import shutil
    import subprocess

    root = Path(__file__).resolve().parent.parent
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("needs a git checkout of pybuild12")
    patterns = tmp_path / "python.gitignore"
    patterns.write_text("\n".join(PYTHON_GITIGNORE) + "\n")
    hidden = subprocess.run(["git", "-C", str(root), "ls-files", "--cached", "--ignored", "--exclude-from",
                             str(patterns)], capture_output=True, text=True, timeout=60, check=True).stdout.split()
    assert hidden == [], f"tracked files a standard Python .gitignore would hide: {hidden}"
