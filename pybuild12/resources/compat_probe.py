"""Can a package run in sub-interpreters, or without the GIL? Run by the interpreter under test.

Usage:
  python -I compat_probe.py --list              the environment's distributions: entry points,
                                                extension modules, a fingerprint of their files,
                                                what their wheel and metadata claim
  python -I compat_probe.py --stdlib            the standard library's extension modules
  python -I compat_probe.py --find MODULE...    where each module would come from
  python -I compat_probe.py --probe MODULE...   each module's verdicts, one JSON line each
  python -I compat_probe.py --together MODULE...  the life-cycle probe (below)
--list, --stdlib and --find print one JSON document.

--probe, for each MODULE in turn, prints {"start": MODULE}, a line with what each
step found, as soon as it is over, and {"done": MODULE}:
  main      import it in the main interpreter (the baseline), noting which extension
            modules outside the standard library the import loaded (or found loaded
            under its own package), and which of the standard library's it loaded;
  gil       on a free-threaded build, whether the GIL was off before the import and is
            on after it (an extension without Py_mod_gil turns it back on, PEP 703);
  own_gil   import it in a sub-interpreter with its own GIL (PEP 684: the 'isolated'
            config, check_multi_interp_extensions on), noting which of the extension
            modules the main import loaded are missing there: a package that imports
            without them runs on a pure-Python fallback;
  legacy    import it in a sub-interpreter that shares the main GIL ('legacy' config).
Each import is "ok", "refuses" (ImportError: "does not support loading in
subinterpreters") or "fails" (any other exception), with the message. pybuild12 runs
one child a distribution: a crash or a hang ends the child after its "start" line, and
the modules after it are probed in a new one. On a free-threaded build the child stops
after a module that turned the GIL on (the next readings would not be their own).

--together imports the modules in an own-GIL sub-interpreter, then in the main
interpreter while that one lives, destroys the sub-interpreter and exits: an extension
whose state the two interpreters share crashes or aborts here (an exit status, not a
line of JSON). It prints {"together": "ok"} just before the interpreter finalizes.
`--together MODULE... --main-first FIRST...` imports FIRST in the main interpreter
before anything else (CPython 3.13's _datetime crashes only when a sub-interpreter
imports it first).
"""

import hashlib
import importlib
import importlib.machinery
import importlib.util
import json
import os
import sys
import sysconfig

REFUSAL = "does not support loading in subinterpreters"
FREE_THREADING_CLASSIFIER = "Programming Language :: Python :: Free Threading"
EDITABLE_FILES = 20000  # at most, of an editable install's source tree, in its fingerprint


def say(data):
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


def outcome(exc):
    text = "%s: %s" % (type(exc).__name__, exc)
    if isinstance(exc, ImportError) and REFUSAL in str(exc):
        return {"status": "refuses", "detail": text}
    return {"status": "fails", "detail": text}


def low_level():
    for name in ("_interpreters", "_xxsubinterpreters"):
        try:
            return importlib.import_module(name), name
        except ImportError:
            continue
    return None, None


def create(mod, name, own_gil):
    if name == "_xxsubinterpreters":  # 3.12: isolated=True gives the interpreter its own GIL
        return mod.create(isolated=own_gil)
    return mod.create(mod.new_config("isolated" if own_gil else "legacy"))


def run_in(mod, interp, code):
    run = getattr(mod, "exec", None) or mod.run_string
    return run(interp, code)


STDLIB_DIRS = tuple(os.path.realpath(p) + os.sep for p in
                    {sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib")} if p)


def is_outside_stdlib_extension(module):
    """An extension module (a compiled file) that the standard library does not ship."""
    spec = getattr(module, "__spec__", None)
    if spec is None or not isinstance(getattr(spec, "loader", None), importlib.machinery.ExtensionFileLoader):
        return False
    origin = os.path.realpath(spec.origin or "")
    site = os.sep + "site-packages" + os.sep
    return site in origin or not origin.startswith(STDLIB_DIRS)


def is_stdlib_extension(module):
    """A module of the standard library's that is compiled: built in, or a file of its own."""
    spec = getattr(module, "__spec__", None)
    if spec is None:
        return False
    if spec.origin == "built-in":
        return True
    return isinstance(getattr(spec, "loader", None), importlib.machinery.ExtensionFileLoader) \
        and not is_outside_stdlib_extension(module)


# Runs inside the sub-interpreter: the outcome travels back through a pipe, which
# works the same with every version's low-level API.
INSIDE = r"""
import json, os, sys
REFUSAL = %r
try:
    import %s
    result = {"status": "ok", "detail": ""}
except BaseException as exc:
    text = "%%s: %%s" %% (type(exc).__name__, exc)
    refused = isinstance(exc, ImportError) and REFUSAL in str(exc)
    result = {"status": "refuses" if refused else "fails", "detail": text}
result["missing"] = [m for m in %r if m not in sys.modules]
os.write(%d, json.dumps(result).encode())
"""


def in_subinterpreter(module, own_gil, loaded):
    mod, name = low_level()
    if mod is None:
        return {"status": "unavailable", "detail": "no sub-interpreter module in this build", "missing": []}
    interp = create(mod, name, own_gil)
    r, w = os.pipe()
    try:
        failure = run_in(mod, interp, INSIDE % (REFUSAL, module, list(loaded), w))
        os.close(w)
        w = None
        data = b""
        while True:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            data += chunk
        if not data:
            return {"status": "fails", "detail": "the interpreter reported nothing (%s)" % (failure,), "missing": []}
        return json.loads(data.decode())
    finally:
        if w is not None:
            os.close(w)
        os.close(r)
        mod.destroy(interp)


def gil_enabled():
    return bool(sys._is_gil_enabled())


def probe(module, free_threaded):
    """Print what each step found as soon as it is over: a crash in the next one still
    leaves the earlier steps' findings behind, and says which step crashed."""
    before = set(sys.modules)
    gil_before = gil_enabled() if free_threaded else None
    try:
        importlib.import_module(module)
        main = {"status": "ok", "detail": ""}
    except BaseException as exc:  # noqa: BLE001 - a module may raise anything, SystemExit included
        main = outcome(exc)
    # The extension modules this import loaded, or found loaded under its own package (an
    # earlier module of the same child may have loaded them first).
    top = module.split(".")[0]
    # Not the aliases a package makes of another's modules (requests.packages.chardet.md).
    loaded = sorted(m for m, mod in list(sys.modules.items())
                    if (m not in before or m == top or m.startswith(top + ".")) and is_outside_stdlib_extension(mod)
                    and getattr(mod, "__name__", m) == m)
    stdlib = sorted(m for m, mod in list(sys.modules.items()) if m not in before and is_stdlib_extension(mod))
    found = {"module": module, "main": main, "loaded": loaded, "stdlib": stdlib}
    if free_threaded:
        found["gil"] = {"before": gil_before, "enabled": gil_enabled()}
    say(found)
    for key, own_gil in (("own_gil", True), ("legacy", False)):
        try:
            result = in_subinterpreter(module, own_gil, loaded)
        except BaseException as exc:  # noqa: BLE001
            result = {"status": "fails", "detail": "%s: %s" % (type(exc).__name__, exc), "missing": []}
        say({"module": module, key: result})
    return found


def probe_all(modules):
    free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    for module in modules:
        say({"start": module})
        found = probe(module, free_threaded)
        say({"done": module})
        if free_threaded and found["gil"]["enabled"] and not found["gil"]["before"]:
            say({"stopped": "the GIL is on"})
            return


def together(modules, first=()):
    """Use the modules from an own-GIL sub-interpreter and the main one at once, then end
    both; `first`: modules the main interpreter imports before the sub-interpreter exists."""
    for module in first:
        importlib.import_module(module)
    mod, name = low_level()
    interp = create(mod, name, True)
    code = "".join("try:\n    import %s\nexcept BaseException:\n    pass\n" % m for m in modules)
    run_in(mod, interp, code)
    for module in modules:
        try:
            importlib.import_module(module)
        except BaseException:  # noqa: BLE001
            pass
    mod.destroy(interp)
    say({"together": "ok"})


# ------------------------------------------------------------------ the listing


def module_name(path, suffixes):
    """The dotted name of an extension module file, or None (a shared library, not a module)."""
    parts = list(path.parts)
    if not parts or parts[0] in ("..", "__pycache__"):
        return None
    filename = parts[-1]
    for suffix in suffixes:
        if filename.endswith(suffix):
            parts[-1] = filename[:-len(suffix)]
            break
    else:
        return None
    if not all(p.isidentifier() for p in parts):
        return None
    return ".".join(parts)


def top_level_of(dist):
    """A distribution's importable top-level names: top_level.txt, else its RECORD's files."""
    text = dist.read_text("top_level.txt")
    names = set()
    if text:
        names.update(line.strip().replace("/", ".") for line in text.splitlines() if line.strip())
    else:
        for path in dist.files or ():
            parts = path.parts
            if (not parts or parts[0].endswith((".dist-info", ".egg-info", ".data"))
                    or parts[0] in ("..", "__pycache__")):
                continue
            first = parts[0]
            if len(parts) == 1:
                if first.endswith(".py"):
                    names.add(first[:-3])
                elif first.endswith((".so", ".pyd")):
                    names.add(first.split(".", 1)[0])
            elif "." not in first:
                names.add(first)
    return sorted(n for n in names if n.isidentifier() and not n.startswith("_distutils"))


def extensions_of(dist):
    suffixes = sorted(importlib.machinery.EXTENSION_SUFFIXES, key=len, reverse=True)
    names = {module_name(path, suffixes) for path in dist.files or ()}
    return sorted(n for n in names if n)


def direct_url(dist):
    try:
        return json.loads(dist.read_text("direct_url.json") or "null")
    except ValueError:
        return None


def editable_dir(dist):
    """The source directory of an editable install (PEP 660's direct_url.json), or None."""
    url = direct_url(dist)
    if not isinstance(url, dict) or not (url.get("dir_info") or {}).get("editable"):
        return None
    location = url.get("url", "")
    if not location.startswith("file://"):
        return None
    from urllib.parse import unquote, urlparse

    path = unquote(urlparse(location).path)
    return path if os.path.isdir(path) else None


def fingerprint(dist):
    """What the verdicts depend on in the distribution's files: its RECORD (a hash of every
    file pip installed) and, for an editable install, the size and mtime of each file of its
    source tree, which changes without the RECORD changing."""
    digest = hashlib.sha256()
    digest.update((dist.read_text("RECORD") or "").encode())
    digest.update(dist.version.encode())
    source = editable_dir(dist)
    if source:
        counted = 0
        for root, dirs, files in os.walk(source):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in ("__pycache__", "node_modules"))
            for name in sorted(files):
                if counted >= EDITABLE_FILES:
                    break
                try:
                    st = os.stat(os.path.join(root, name))
                except OSError:
                    continue
                digest.update(("%s|%d|%d\n" % (os.path.join(root, name), st.st_size, st.st_mtime_ns)).encode())
                counted += 1
    return digest.hexdigest()


def evidence(dist):
    """What the wheel and the metadata claim, beside what the probe finds."""
    tags = []
    for line in (dist.read_text("WHEEL") or "").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Tag" and value.strip():
            tags.append(value.strip())
    abis = sorted({t.split("-")[1] for t in tags if t.count("-") == 2})
    compiled = [a for a in abis if a != "none"]
    classifiers = sorted(c for c in (dist.metadata.get_all("Classifier") or [])
                         if c.startswith(FREE_THREADING_CLASSIFIER))
    return {
        "wheel_tags": tags,
        # None: a pure-Python wheel (or no WHEEL file), for which the tag says nothing
        "free_threaded_wheel": (any(a.endswith("t") for a in compiled) if compiled else None),
        "free_threading_classifiers": classifiers,
        "editable": editable_dir(dist) is not None,
    }


def list_distributions():
    from importlib import metadata

    seen = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if not name or name.lower() in seen:
            continue
        seen[name.lower()] = {"name": name, "version": dist.version, "modules": top_level_of(dist),
                              "extensions": extensions_of(dist), "fingerprint": fingerprint(dist),
                              "evidence": evidence(dist)}
    return sorted(seen.values(), key=lambda d: d["name"].lower())


def find(modules):
    """Where each module would come from: the standard library, somewhere on sys.path that
    no distribution claims, or nowhere."""
    found = {}
    for module in modules:
        top = module.split(".")[0]
        if top in sys.stdlib_module_names or top in sys.builtin_module_names:
            found[module] = "stdlib"
            continue
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            spec = None
        found[module] = "unowned" if spec is not None else "missing"
    return found


def stdlib_extensions():
    # verify_variant.py sits beside this script; -I leaves the script's directory off sys.path.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import verify_variant

    return verify_variant.stdlib_extensions(builtins=False)


def valid(name):
    return all(part.isidentifier() for part in name.split("."))


def main():
    args = sys.argv[1:]
    info = {"version": sys.version.split()[0], "executable": sys.executable, "prefix": sys.prefix,
            "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED"))}
    command, names = (args[0], args[1:]) if args else ("", [])
    first = []
    if command == "--together" and "--main-first" in names:
        at = names.index("--main-first")
        names, first = names[:at], names[at + 1:]
    if not all(valid(n) for n in names + first):
        sys.exit("not a module name: %r" % next(n for n in names if not valid(n)))
    if command == "--list" and not names:
        print(json.dumps({"python": info, "distributions": list_distributions()}))
    elif command == "--stdlib" and not names:
        print(json.dumps({"python": info, "modules": stdlib_extensions()}))
    elif command == "--find" and names:
        print(json.dumps({"python": info, "modules": find(names)}))
    elif command == "--probe" and names:
        probe_all(names)
    elif command == "--together" and names:
        together(names, first)
    else:
        sys.exit("usage: compat_probe.py --list | --stdlib | --find MODULE... | --probe MODULE... "
                 "| --together MODULE... [--main-first MODULE...]")


if __name__ == "__main__":
    main()
