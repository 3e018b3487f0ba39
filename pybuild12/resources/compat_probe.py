"""Can a module run in sub-interpreters, or without the GIL? Run by the interpreter under test.

Usage:
  python -I compat_probe.py --list            the environment's distributions and their modules
  python -I compat_probe.py --stdlib          the standard library's extension modules
  python -I compat_probe.py MODULE            one module's verdicts (pybuild12 runs one child a module,
                                              so a crash or a hang costs that module only)
Prints one JSON document.

For MODULE, in this order:
  main      import it in the main interpreter (the baseline);
  own_gil   import it in a sub-interpreter with its own GIL (PEP 684: 'isolated' config,
            check_multi_interp_extensions on), as verify's API detection finds it;
  legacy    import it in a sub-interpreter that shares the main GIL ('legacy' config);
  gil       on a free-threaded build, whether the GIL is still off after the import
            (an extension without Py_mod_gil turns it back on, PEP 703).
Each import is "ok", "refuses" (ImportError: "does not support loading in subinterpreters")
or "fails" (any other exception), with the message.
"""

import importlib
import json
import os
import sys
import sysconfig

REFUSAL = "does not support loading in subinterpreters"


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


# Runs inside the sub-interpreter: the outcome travels back through a pipe, which
# works the same with every version's low-level API.
INSIDE = r"""
import json, os
REFUSAL = %r
try:
    import %s
    result = {"status": "ok", "detail": ""}
except BaseException as exc:
    text = "%%s: %%s" %% (type(exc).__name__, exc)
    refused = isinstance(exc, ImportError) and REFUSAL in str(exc)
    result = {"status": "refuses" if refused else "fails", "detail": text}
os.write(%d, json.dumps(result).encode())
"""


def in_subinterpreter(module, own_gil):
    mod, name = low_level()
    if mod is None:
        return {"status": "unavailable", "detail": "no sub-interpreter module in this build"}
    interp = create(mod, name, own_gil)
    r, w = os.pipe()
    try:
        run = getattr(mod, "exec", None) or getattr(mod, "run_string")
        failure = run(interp, INSIDE % (REFUSAL, module, w))
        os.close(w)
        w = None
        data = b""
        while True:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            data += chunk
        if not data:
            return {"status": "fails", "detail": "the interpreter reported nothing (%s)" % (failure,)}
        return json.loads(data.decode())
    finally:
        if w is not None:
            os.close(w)
        os.close(r)
        mod.destroy(interp)


def probe(module):
    free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    result = {"module": module, "free_threaded": free_threaded}
    try:
        importlib.import_module(module)
        result["main"] = {"status": "ok", "detail": ""}
    except BaseException as exc:  # noqa: BLE001 - a module may raise anything, SystemExit included
        result["main"] = outcome(exc)
    if free_threaded:
        result["gil"] = {"enabled": bool(sys._is_gil_enabled())}
    for key, own_gil in (("own_gil", True), ("legacy", False)):
        try:
            result[key] = in_subinterpreter(module, own_gil)
        except BaseException as exc:  # noqa: BLE001
            result[key] = {"status": "fails", "detail": "%s: %s" % (type(exc).__name__, exc)}
    return result


def top_level_of(dist):
    """A distribution's importable top-level names: top_level.txt, else its RECORD's files."""
    text = dist.read_text("top_level.txt")
    names = set()
    if text:
        names.update(line.strip() for line in text.splitlines() if line.strip())
    else:
        for path in dist.files or ():
            parts = path.parts
            if not parts or parts[0].endswith((".dist-info", ".egg-info", ".data")) or parts[0] in ("..", "__pycache__"):
                continue
            first = parts[0]
            if len(parts) == 1:
                if first.endswith(".py"):
                    names.add(first[:-3])
                elif first.endswith(".so") or first.endswith(".pyd"):
                    names.add(first.split(".", 1)[0])
            elif "." not in first:
                names.add(first)
    return sorted(n for n in names if n.isidentifier() and not n.startswith("_distutils"))


def extensions_of(dist):
    suffixes = (".so", ".pyd")
    return sorted(str(p) for p in dist.files or () if str(p).endswith(suffixes))


def list_distributions():
    from importlib import metadata

    seen = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if not name or name.lower() in seen:
            continue
        seen[name.lower()] = {"name": name, "version": dist.version, "modules": top_level_of(dist),
                              "extensions": extensions_of(dist)}
    return sorted(seen.values(), key=lambda d: d["name"].lower())


def stdlib_extensions():
    # verify_variant.py sits beside this script; -I leaves the script's directory off sys.path.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import verify_variant

    return verify_variant.stdlib_extensions(builtins=False)


def main():
    args = sys.argv[1:]
    info = {"version": sys.version.split()[0], "executable": sys.executable, "prefix": sys.prefix,
            "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED"))}
    if args == ["--list"]:
        print(json.dumps({"python": info, "distributions": list_distributions()}))
    elif args == ["--stdlib"]:
        print(json.dumps({"python": info, "modules": stdlib_extensions()}))
    elif len(args) == 1 and args[0].replace(".", "").replace("_", "").isalnum():
        print(json.dumps(probe(args[0])))
    else:
        sys.exit("usage: compat_probe.py --list | --stdlib | MODULE")


if __name__ == "__main__":
    main()
