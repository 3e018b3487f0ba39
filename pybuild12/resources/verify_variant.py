"""Checks of a build's variant, run by the interpreter under test (never by pybuild12's own).

Usage:
  python -I verify_variant.py [--expect freethreaded,debug,jit,tsan,asan,ubsan]
  python -I verify_variant.py --gil-scan [--path DIR] [MODULE ...]

The first form prints one JSON document {"build": {...}, "checks": [...]} (check
entries as verify_interp.py's): the variant found against the one expected, and
for each variant found its own proof:
  free-threaded (PEP 703): the GIL is off at start and stays off once every
      extension module of the standard library is imported; any module that turns
      it back on is named (an extension without Py_mod_gil does, with a warning);
  debug: sys.gettotalrefcount exists (Py_DEBUG);
  JIT (PEP 744): with PYTHON_JIT=1 a child finds the JIT available and enabled
      (3.14+: sys._jit; 3.13: the tier-2 optimizer _testinternalcapi reports) and
      runs a hot loop to the right answer.
The second form imports the modules (default: the standard library's extension
modules) one by one in children of this interpreter and prints which turned the GIL
on: {"gil_at_start": bool, "imported": N, "enabled_by": [...], "failed": {...}}.
"""

import importlib
import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
import sysconfig

CHECKS = []
# Modules that exist to test CPython itself, some of them deliberately without
# Py_mod_gil (single-phase init tests): they say nothing about a user's program.
TEST_ONLY = ("_test", "xx", "_xx", "_ctypes_test")


def record(name, status, reason, **figures):
    CHECKS.append({"name": name, "status": status, "reason": reason, "figures": figures})


def detected():
    jit = None
    if hasattr(sys, "_jit"):  # 3.14+
        jit = bool(sys._jit.is_available())
    elif sys.version_info >= (3, 13):
        jit = "-D_Py_JIT" in (sysconfig.get_config_var("PY_CORE_CFLAGS") or "")
    # A sanitizer build's flags are in the CFLAGS it gives extensions (configure's BASECFLAGS).
    flags = " ".join(str(sysconfig.get_config_var(n) or "") for n in ("CFLAGS", "LDFLAGS")).split()
    return {
        "freethreaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        "debug": hasattr(sys, "gettotalrefcount"),
        "jit": bool(jit),
        "tsan": "-fsanitize=thread" in flags,
        "asan": "-fsanitize=address" in flags,
        "ubsan": "-fsanitize=undefined" in flags,
    }


def stdlib_extensions(builtins=True):
    """The standard library's extension modules (and its built-in ones, unless told not)."""
    names = []
    for name in sorted(getattr(sys, "stdlib_module_names", ())):
        if name.startswith(TEST_ONLY):
            continue
        try:
            spec = importlib.util.find_spec(name)
        except Exception:  # noqa: BLE001 - a module that cannot even be found is skipped
            continue
        if spec is not None and ((builtins and spec.origin == "built-in")
                                 or isinstance(spec.loader, importlib.machinery.ExtensionFileLoader)):
            names.append(name)
    return names


SCAN_CHILD = r"""
import importlib, json, sys
out = {"gil_at_start": sys._is_gil_enabled(), "imported": [], "failed": {}, "enabled_by": None}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except BaseException as exc:
        out["failed"][name] = "%s: %s" % (type(exc).__name__, exc)
        continue
    out["imported"].append(name)
    if sys._is_gil_enabled() and not out["gil_at_start"]:
        out["enabled_by"] = name
        break
print(json.dumps(out))
"""


def gil_scan(modules, path=None):
    """Import `modules` in order in children; once one turns the GIL on, a new child
    goes on after it, so every such module is named, not only the first."""
    env = dict(os.environ, PYTHONWARNINGS="ignore")  # the 'GIL enabled' RuntimeWarning
    env.pop("PYTHON_GIL", None)  # PYTHON_GIL=0 would keep it off whatever the modules do
    argv = [sys.executable, "-I", "-c", SCAN_CHILD]
    if path:  # -I ignores PYTHONPATH: put the directory in front by hand
        argv = [sys.executable, "-I", "-c", "import sys; sys.path.insert(0, %r); exec(%r)" % (path, SCAN_CHILD)]
    result = {"gil_at_start": None, "imported": 0, "enabled_by": [], "failed": {}}
    todo = list(modules)
    while True:
        proc = subprocess.run(argv + todo, capture_output=True, text=True, env=env, timeout=300)
        try:
            data = json.loads(proc.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError("the import child exited %d: %s" % (proc.returncode, tail)) from None
        if result["gil_at_start"] is None:
            result["gil_at_start"] = data["gil_at_start"]
        result["imported"] += len(data["imported"])
        result["failed"].update(data["failed"])
        if data["gil_at_start"] or data["enabled_by"] is None:
            return result
        result["enabled_by"].append(data["enabled_by"])
        done = len(data["imported"]) + len(data["failed"])
        todo = todo[done:]
        if not todo:
            return result


def check_variant(found, expected):
    missing = [v for v in expected if not found.get(v)]
    have = [v for v in ("freethreaded", "debug", "jit", "tsan", "asan", "ubsan") if found.get(v)] or ["default"]
    if missing:
        record("variant", "failed", "expected %s, but this is a %s build" % ("+".join(expected), "+".join(have)),
               **found)
    else:
        record("variant", "passed", "%s build" % "+".join(have), **found)


def check_free_threading():
    if not hasattr(sys, "_is_gil_enabled"):
        record("free-threading", "failed", "Py_GIL_DISABLED is set but sys._is_gil_enabled() is missing")
        return
    modules = stdlib_extensions()
    scan = gil_scan(modules)
    figures = {"modules": len(modules), "imported": scan["imported"], "enabled_by": scan["enabled_by"],
               "failed_imports": sorted(scan["failed"])}
    if scan["gil_at_start"]:
        record("free-threading", "failed", "the GIL is enabled at start (PYTHON_GIL=1 or -X gil=1 in the environment?)",
               **figures)
    elif scan["enabled_by"]:
        record("free-threading", "failed", "importing %s turned the GIL back on (no Py_mod_gil slot)"
               % ", ".join(scan["enabled_by"]), **figures)
    else:
        record("free-threading", "passed", "the GIL is off at start and stays off after importing %d of the "
               "standard library's %d extension modules" % (scan["imported"], len(modules)), **figures)


def check_debug():
    if hasattr(sys, "gettotalrefcount"):
        record("debug build", "passed", "sys.gettotalrefcount() = %d (Py_DEBUG)" % sys.gettotalrefcount())
    else:
        record("debug build", "failed", "sys.gettotalrefcount is missing: not a Py_DEBUG build")


JIT_CHILD = r"""
import json, sys
def hot(n):
    total = 0
    for i in range(n):
        total += i * i % 7
    return total
seen_active = False
for _ in range(50):
    assert hot(20000) == sum(i * i % 7 for i in range(20000))
    if hasattr(sys, "_jit"):
        seen_active = seen_active or bool(sys._jit.is_active())
out = {"answer_ok": True}
if hasattr(sys, "_jit"):
    out.update(api="sys._jit", available=sys._jit.is_available(), enabled=sys._jit.is_enabled(),
               active_seen=seen_active)
else:  # 3.13: built with -D_Py_JIT, and PYTHON_JIT=1 installs the tier-2 optimizer
    import sysconfig, _testinternalcapi
    get = getattr(_testinternalcapi, "get_optimizer", None)
    opt = get() if get is not None else None
    out.update(api="_testinternalcapi.get_optimizer",
               available="-D_Py_JIT" in (sysconfig.get_config_var("PY_CORE_CFLAGS") or ""),
               enabled=opt is not None, optimizer=type(opt).__name__)
print(json.dumps(out))
"""


def check_jit():
    env = dict(os.environ, PYTHON_JIT="1")
    proc = subprocess.run([sys.executable, "-I", "-c", JIT_CHILD], capture_output=True, text=True, env=env,
                          timeout=300)
    try:
        data = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        record("jit", "failed", "a child with PYTHON_JIT=1 exited %d: %s" % (proc.returncode, tail))
        return
    if not data.get("available"):
        record("jit", "failed", "%s: the JIT is not available in this build" % data["api"], **data)
    elif not data.get("enabled"):
        record("jit", "failed", "%s: PYTHON_JIT=1 did not enable the JIT" % data["api"], **data)
    else:
        extra = "; JIT code seen running" if data.get("active_seen") else ""
        record("jit", "passed", "with PYTHON_JIT=1 the JIT is available and enabled (%s) and a hot loop ran to "
               "the right answer%s" % (data["api"], extra), **data)


def guarded(name, func, *args):
    try:
        func(*args)
    except BaseException as exc:  # noqa: BLE001 - the report must always be printed
        record(name, "failed", "unexpected %s: %s" % (type(exc).__name__, exc))


def main():
    argv = sys.argv[1:]
    if argv[:1] == ["--gil-scan"]:
        argv = argv[1:]
        path = None
        if argv[:1] == ["--path"]:
            path, argv = argv[1], argv[2:]
        print(json.dumps(gil_scan(argv or stdlib_extensions(), path)))
        return
    expected = []
    if "--expect" in argv:
        expected = [v for v in argv[argv.index("--expect") + 1].split(",") if v]
    found = detected()
    check_variant(found, expected)
    if found["freethreaded"]:
        guarded("free-threading", check_free_threading)
    if found["debug"] or "debug" in expected:
        guarded("debug build", check_debug)
    if found["jit"] or "jit" in expected:
        guarded("jit", check_jit)
    print(json.dumps({"build": found, "checks": CHECKS}))


if __name__ == "__main__":
    main()
