"""Post-install check, run by the freshly built interpreter (not pybuild12's own).

Usage: python smoke.py EXPECTED_VERSION|- [MODULE ...]
Prints one JSON object: {"checks": [{"name", "ok", "detail"}...], "version": ...}.
Kept to what every CPython from 3.12 on has; the full sub-interpreter
verification is `pybuild12 verify`.
"""

import importlib
import json
import sys

checks = []


def check(name, func):
    try:
        detail = func()
        checks.append({"name": name, "ok": True, "detail": detail or "ok"})
    except BaseException as exc:  # report everything, including SystemExit from a module
        checks.append({"name": name, "ok": False, "detail": "%s: %s" % (type(exc).__name__, exc)})


def version():
    actual = sys.version.split()[0]
    if expected != "-" and actual != expected:
        raise AssertionError("runs %s, the recipe says %s" % (actual, expected))
    return actual


def lowlevel():
    # 3.13 renamed _xxsubinterpreters to _interpreters (gh-117291); detect by
    # what exists, since a main-branch build can sit between the two.
    for name in ("_interpreters", "_xxsubinterpreters"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        interp = mod.create()
        mod.destroy(interp)
        return "%s: created and destroyed an interpreter" % name
    raise ImportError("neither _interpreters nor _xxsubinterpreters can be imported")


def test_support():
    import test.support  # noqa: F401  (removed by --disable-test-modules)

    return "test.support from %s" % test.support.__file__


def module(name):
    return lambda: importlib.import_module(name) and None


expected = sys.argv[1]
check("version", version)
check("sub-interpreters", lowlevel)
check("test.support", test_support)
for name in sys.argv[2:]:
    check("module " + name, module(name))
print(json.dumps({"checks": checks, "version": sys.version, "executable": sys.executable}))
