"""Sub-interpreter verification, run by the interpreter under test (never by pybuild12's own).

Usage: python -I verify_interp.py [--full] [--workers N]
Prints one JSON document on stdout:
  {"python": {...}, "api": {...}, "checks": [{"name", "status", "reason", "figures"}, ...]}
status is one of: passed, failed, skipped, inconclusive.

The API generation is detected by what exists, not by the version number: a
main-branch build such as 3.12.0a7+ sits between releases.
  3.12:  _xxsubinterpreters, _xxinterpchannels, test.support.interpreters (one module, run())
  3.13:  _interpreters, _interpchannels, _interpqueues, test.support.interpreters (package, exec())
  3.14+: the same low-level modules, public concurrent.interpreters (PEP 734)
"""

import importlib
import json
import os
import subprocess
import sys
import threading
import time

CHECKS = []
FULL = "--full" in sys.argv
WORKERS = None
if "--workers" in sys.argv:
    WORKERS = int(sys.argv[sys.argv.index("--workers") + 1])


def record(name, status, reason, **figures):
    CHECKS.append({"name": name, "status": status, "reason": reason, "figures": figures})


def describe(exc):
    text = "%s: %s" % (type(exc).__name__, exc)
    cause = exc.__cause__ or exc.__context__
    if cause is not None and cause is not exc:
        text += " (from %s: %s)" % (type(cause).__name__, cause)
    return text


def try_import(name):
    try:
        return importlib.import_module(name), None
    except Exception as exc:  # ImportError, or a module refusing this interpreter
        return None, describe(exc)


# ------------------------------------------------------------------ the API


class Api:
    """Which sub-interpreter modules this interpreter has."""

    def __init__(self):
        self.low, self.low_name = None, None
        for name in ("_interpreters", "_xxsubinterpreters"):
            mod, _ = try_import(name)
            if mod is not None:
                self.low, self.low_name = mod, name
                break
        new = self.low_name != "_xxsubinterpreters"  # 3.13 naming, or nothing at all
        self.low_channels_name = "_interpchannels" if new else "_xxinterpchannels"
        self.low_queues_name = "_interpqueues" if new else None
        self.high, self.high_name, self.high_error = None, None, None
        for name in ("concurrent.interpreters", "test.support.interpreters"):
            mod, err = try_import(name)
            if mod is not None:
                self.high, self.high_name = mod, name
                break
            if name == "test.support.interpreters" or self.high_error is None:
                self.high_error = err
        self.expected_high = "concurrent.interpreters" if sys.version_info >= (3, 14) else "test.support.interpreters"

    def create(self):
        if self.high_name == "test.support.interpreters" and self.low_name == "_xxsubinterpreters":
            return self.high.create(isolated=True)  # 3.12: own GIL when isolated
        return self.high.create()  # 3.13+: the default config is 'isolated' (own GIL)

    def run(self, interp, code):
        for method in ("exec", "exec_sync", "run"):
            if hasattr(interp, method):
                return getattr(interp, method)(code)
        raise AttributeError("the Interpreter object has no exec() or run()")

    def low_create(self):
        if self.low_name == "_xxsubinterpreters":
            return self.low.create(isolated=True)
        return self.low.create()

    def low_run(self, interp_id, code):
        run = getattr(self.low, "exec", None) or self.low.run_string
        return run(interp_id, code)

    def as_json(self):
        return {"low_level": self.low_name, "high_level": self.high_name}


def interp_id(interp):
    return int(interp.id)


# ----------------------------------------------------------------- the checks


def check_modules(api):
    wanted = ["_interpreters" if api.low_name != "_xxsubinterpreters" else "_xxsubinterpreters",
              api.low_channels_name]
    if api.low_queues_name:
        wanted.append(api.low_queues_name)
    missing = []
    for name in wanted:
        mod, err = try_import(name)
        if mod is None:
            missing.append("%s (%s)" % (name, err))
    if missing:
        record("modules", "failed", "cannot import " + "; ".join(missing))
    else:
        record("modules", "passed", "imported " + ", ".join(wanted))


def check_high_level(api):
    if api.high is None:
        hint = ""
        if api.high_error and "'test'" in api.high_error:
            hint = " (the test package is missing: built with --disable-test-modules, or deleted)"
        record("high-level API", "failed", "cannot import %s: %s%s" % (api.expected_high, api.high_error, hint))
    else:
        record("high-level API", "passed", "imported " + api.high_name)


SUBINTERP_CONFIG = {
    "use_main_obmalloc": False,
    "allow_fork": False,
    "allow_exec": False,
    "allow_threads": True,
    "allow_daemon_threads": False,
    "check_multi_interp_extensions": True,
}


def check_helper():
    support, err = try_import("test.support")
    if support is None:
        record("test.support helper", "failed", "cannot import test.support: %s (the test package is missing)" % err)
        return
    helper = getattr(support, "run_in_subinterp_with_config", None)
    if helper is None:
        record("test.support helper", "failed", "test.support has no run_in_subinterp_with_config")
        return
    capi = "_testinternalcapi" if sys.version_info >= (3, 13) else "_testcapi"
    mod, err = try_import(capi)
    if mod is None:
        record("test.support helper", "failed", "%s is missing (built with --disable-test-modules?): %s" % (capi, err))
        return
    code = "import sys\nassert sum(range(1000)) == 499500\n"
    try:
        result = helper(code, own_gil=True, **SUBINTERP_CONFIG)
    except TypeError:
        try:  # main-branch builds of spring 2023 took the GIL setting as a plain config key
            result = helper(code, **dict(SUBINTERP_CONFIG, own_gil=True))
        except Exception as exc:
            record("test.support helper", "failed", "run_in_subinterp_with_config: " + describe(exc))
            return
    except BaseException as exc:  # unittest.SkipTest is a plain Exception subclass
        record("test.support helper", "failed", "run_in_subinterp_with_config: " + describe(exc))
        return
    if result == 0:
        record("test.support helper", "passed", "run_in_subinterp_with_config(own_gil=True) returned 0 (via %s)" % capi)
    else:
        record("test.support helper", "failed", "run_in_subinterp_with_config(own_gil=True) returned %r" % (result,))


def needs_high(name, api):
    if api.high is None:
        record(name, "failed", "needs %s, which cannot be imported" % api.expected_high)
        return True
    return False


def check_lifecycle(api):
    if needs_high("lifecycle", api):
        return
    main_id = interp_id(api.high.get_main())
    interp = api.create()
    try:
        listed = sorted(interp_id(i) for i in api.high.list_all())
        if interp_id(interp) not in listed:
            raise AssertionError("list_all() %s does not show the new interpreter %d" % (listed, interp_id(interp)))
        r, w = os.pipe()
        try:
            # The low-level module, not the high-level one: importing test.support.interpreters
            # inside a sub-interpreter re-registers the channel end types for the whole
            # process (3.12, 3.13), after which the main interpreter's channel ends no
            # longer cross interpreters.
            api.run(interp, "import os, %s as m\ncur = m.get_current()\n"
                    "cur = cur[0] if isinstance(cur, tuple) else cur\n"
                    "os.write(%d, str(int(cur)).encode())\n" % (api.low_name, w))
            reported = int(os.read(r, 100).decode())
        finally:
            os.close(r)
            os.close(w)
        if reported != interp_id(interp):
            raise AssertionError("code in interpreter %d reported id %d" % (interp_id(interp), reported))
    except Exception as exc:
        interp.close()
        record("lifecycle", "failed", describe(exc))
        return
    interp.close()
    after = sorted(interp_id(i) for i in api.high.list_all())
    if after != [main_id]:
        record("lifecycle", "failed", "after close(), list_all() shows %s, not only the main interpreter" % after)
        return
    record("lifecycle", "passed", "created %d, it reported its own id through a pipe, closed it" % reported,
           interpreters_listed=len(listed))


def channel_module(api):
    """The high-level channels: in the 3.12 module itself, a submodule in 3.13, test.support.channels in 3.14."""
    if hasattr(api.high, "create_channel"):
        return api.high.create_channel
    for name in ("test.support.interpreters.channels", "test.support.channels"):
        mod, _ = try_import(name)
        if mod is not None:
            return mod.create
    return None


def queue_factory(api):
    if hasattr(api.high, "create_queue"):
        return api.high.create_queue
    mod, _ = try_import("test.support.interpreters.queues")
    return mod.create if mod is not None else None


def check_messages(api):
    if needs_high("messages", api):
        return
    done = []
    try:
        make_channel = channel_module(api)
        if make_channel is not None:
            done.append(_round_trip_channels(api, make_channel))
        make_queue = queue_factory(api)
        if make_queue is not None:
            done.append(_round_trip_queue(api, make_queue))
    except Exception as exc:
        record("messages", "failed", describe(exc))
        return
    if not done:
        record("messages", "failed", "neither channels nor queues are available")
    else:
        record("messages", "passed", "; ".join(done))


def _round_trip_channels(api, make_channel):
    to_sub_r, to_sub_s = make_channel()
    back_r, back_s = make_channel()
    interp = api.create()
    try:
        to_sub_s.send_nowait(b"ping")
        if hasattr(interp, "prepare_main"):
            interp.prepare_main(to_sub=to_sub_r, back=back_s)
            api.run(interp, "data = to_sub.recv()\nback.send_nowait(data + b' pong')\n")
        else:
            # 3.12 cannot pass the high-level channel ends into an interpreter (its
            # own test is skipped as broken); the low-level channel ids cross fine.
            code = "import %s as ch\nch.send(back, ch.recv(to_sub) + b' pong')\n" % api.low_channels_name
            interp.run(code, channels={"to_sub": to_sub_r.id, "back": back_s.id})
        answer = back_r.recv()
    finally:
        interp.close()
    if answer != b"ping pong":
        raise AssertionError("channel round trip returned %r" % (answer,))
    return "channels: b'ping' went in, b'ping pong' came back"


def _round_trip_queue(api, make_queue):
    to_sub, back = make_queue(), make_queue()
    interp = api.create()
    try:
        # 3.13.0 refuses to share a queue into an interpreter that has not imported
        # the queue module yet ("_interpqueues module not imported yet").
        api.run(interp, "import %s\n" % type(to_sub).__module__)
        interp.prepare_main(to_sub=to_sub, back=back)
        to_sub.put(b"ping")
        api.run(interp, "back.put(to_sub.get() + b' pong')\n")
        answer = back.get(timeout=10)
    finally:
        interp.close()
    if answer != b"ping pong":
        raise AssertionError("queue round trip returned %r" % (answer,))
    return "queues: b'ping' went in, b'ping pong' came back"


def check_threads(api, count):
    if needs_high("threads", api):
        return
    interps = [api.create() for _ in range(count)]
    errors, finished = [], []

    def target(interp):
        try:
            api.run(interp, "total = sum(i * i for i in range(200000))\n")
            finished.append(interp_id(interp))
        except Exception as exc:
            errors.append(describe(exc))

    threads = [threading.Thread(target=target, args=(i,)) for i in interps]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    alive = sum(t.is_alive() for t in threads)
    if not alive:
        for interp in interps:
            interp.close()
    if errors or alive or len(finished) != count:
        record("threads", "failed",
               "%d of %d finished; %s" % (len(finished), count, "; ".join(errors) or "%d hung" % alive))
    else:
        record("threads", "passed", "%d interpreters ran at once from threads and all finished" % count)


def check_clean_exit(api):
    if api.low is None:
        record("clean exit", "failed", "no sub-interpreter module")
        return
    if api.low_name == "_xxsubinterpreters":
        body = "ids = [m.create(isolated=True) for _ in range(3)]\nfor i in ids:\n    m.run_string(i, 'x = 1')\n"
    else:
        body = ("ids = [m.create() for _ in range(3)]\nfor i in ids:\n"
                "    (getattr(m, 'exec', None) or m.run_string)(i, 'x = 1')\n")
    code = "import %s as m\n%sfor i in ids:\n    m.destroy(i)\n" % (api.low_name, body)
    proc = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60)
    bad = [s for s in ("Fatal Python error", "remaining subinterpreters") if s in proc.stderr]
    if proc.returncode != 0 or bad:
        tail = proc.stderr.strip().splitlines()[-1:] or [""]
        record("clean exit", "failed", "child exited %d; %s" % (proc.returncode, ", ".join(bad) or tail[0]))
    else:
        record("clean exit", "passed", "a child that created and destroyed 3 interpreters exited 0 with a clean stderr")


# ------------------------------------------------------------- parallelism

WORK = "x = 0\nfor i in range(%d):\n    x += i * i\n"


def _spin(n):
    x = 0
    for i in range(n):
        x += i * i
    return x


def calibrate(target=0.12):
    n = 200000
    while True:
        start = time.perf_counter()
        _spin(n)
        took = time.perf_counter() - start
        if took > 0.02:
            return max(1, int(n * target / took))
        n *= 4


def _time_threads(funcs):
    threads = [threading.Thread(target=f) for f in funcs]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def time_interpreters(api, interps, n, workers):
    code = WORK % n
    errors = []

    def one(interp):
        def run():
            try:
                api.run(interp, code)
            except Exception as exc:
                errors.append(describe(exc))
        return run

    took = _time_threads([one(i) for i in interps[:workers]])
    if errors:
        raise RuntimeError(errors[0])
    return took


def time_threads(n, workers):
    return _time_threads([lambda: _spin(n) for _ in range(workers)])


def time_processes(n, workers, cpu=None):
    """Wall seconds of `workers` processes doing the work at once; their CPU seconds
    over the work itself are appended to `cpu` when given."""
    code = ("import sys, time\nprint('ready', flush=True)\nsys.stdin.readline()\nc = time.process_time()\n" + WORK % n
            + "print('done %r' % (time.process_time() - c), flush=True)\n")
    procs = [subprocess.Popen([sys.executable, "-I", "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True) for _ in range(workers)]
    for p in procs:  # every process has started up before the clock starts
        p.stdout.readline()
    start = time.perf_counter()
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    done = [p.stdout.readline() for p in procs]
    took = time.perf_counter() - start
    for p in procs:
        p.stdin.close()
        p.wait()
    if cpu is not None:
        cpu.append(sum(float(line.split()[1]) for line in done))
    return took


def speedups(timer, workers, rounds=3):
    """Throughput with `workers` over one worker, each the best of `rounds` runs."""
    one = min(timer(1) for _ in range(rounds))
    many = min(timer(workers) for _ in range(rounds))
    return round(workers * one / many, 2), round(one, 3), round(many, 3)


# A timing on a shared machine is evidence, not a verdict. What proves parallelism
# whatever the load is CPU time: while N interpreters run in threads of this one
# process, the process can only use more CPU seconds than wall seconds if two of them
# ran at the same moment, which one shared GIL forbids (a thread waiting for the GIL
# sleeps on a condition variable). So the check passes on that proof; it fails only
# when the interpreters cannot be created or run, or when, round after round, they
# never ran at the same time while processes started beside them did; otherwise (a
# busy machine gives this process too little CPU to show anything) it is inconclusive,
# with the figures. Throughput speedups are reported beside it.
ROUNDS = 6  # at most; a round that proves parallelism ends the measurement
PROOF_ROUNDS_FOR_FAILURE = 3  # rounds where processes scaled and the interpreters never overlapped


def proof_level(workers):
    """CPU seconds per wall second that only parallel execution can reach (1.5 for 2 workers)."""
    return 1 + 0.5 * (workers - 1)


def _cpu_timed(func, *args):
    """(wall seconds, this process's CPU seconds over them) of func(*args)."""
    cpu, start = time.process_time(), time.perf_counter()
    func(*args)
    wall = time.perf_counter() - start
    return wall, time.process_time() - cpu


def measure_round(api, interps, n, workers):
    """One round, every kind measured back to back so that they see the same machine."""
    def figures(one, wall, cpu):
        return {"speedup": round(workers * one / wall, 2), "cpu_per_wall": round(cpu / wall, 2),
                "seconds_one_worker": round(one, 3), "seconds_all_workers": round(wall, 3)}

    fig = {}
    for kind, timer in (("interpreters", lambda w: time_interpreters(api, interps, n, w)),
                        ("threads", lambda w: time_threads(n, w))):
        one = timer(1)
        fig[kind] = figures(one, *_cpu_timed(timer, workers))
    one = time_processes(n, 1)
    cpu = []  # the children's own CPU seconds: this process only waits for them
    many = time_processes(n, workers, cpu)
    fig["processes"] = figures(one, many, cpu[0])
    return fig


def verdict(rounds, kind, workers):
    """passed / failed / inconclusive for `kind` (interpreters or threads) over the rounds so far."""
    proof = [r for r in rounds if r[kind]["cpu_per_wall"] >= proof_level(workers)]
    if proof:
        return "passed"
    # Rounds where the machine gave processes, started right after, parallel CPU time.
    scaled = [r for r in rounds if r["processes"]["cpu_per_wall"] >= proof_level(workers)]
    serial = [r for r in scaled if r[kind]["cpu_per_wall"] < 1.15 and r[kind]["speedup"] < 1.15]
    if len(serial) >= PROOF_ROUNDS_FOR_FAILURE and len(serial) == len(scaled):
        return "failed"
    return "inconclusive"


def summarize(rounds, workers):
    best = {kind: max(rounds, key=lambda r: r[kind]["speedup"])[kind]
            for kind in ("interpreters", "threads", "processes")}
    cpu = {kind: max(r[kind]["cpu_per_wall"] for r in rounds) for kind in ("interpreters", "threads", "processes")}
    figures = {"workers": workers, "rounds": len(rounds),
               "interpreters_speedup": best["interpreters"]["speedup"], "threads_speedup": best["threads"]["speedup"],
               "processes_speedup": best["processes"]["speedup"],
               "interpreters_cpu_per_wall": cpu["interpreters"], "threads_cpu_per_wall": cpu["threads"],
               "processes_cpu_per_wall": cpu["processes"],
               "seconds_one_worker": {k: v["seconds_one_worker"] for k, v in best.items()},
               "seconds_all_workers": {k: v["seconds_all_workers"] for k, v in best.items()},
               "each_round": rounds}
    text = ("%d workers, best of %d round%s: own-GIL interpreters %.2fx (%.2f CPU s per wall s), threads %.2fx, "
            "processes %.2fx" % (workers, len(rounds), "" if len(rounds) == 1 else "s", figures["interpreters_speedup"],
                                 cpu["interpreters"], figures["threads_speedup"], figures["processes_speedup"]))
    return text, figures


def explain(name, status, kind, summary, workers, rounds):
    if status == "passed":
        return summary + "; %s used %.2f CPU seconds per wall second, which needs parallel execution" % (
            kind, max(r[kind]["cpu_per_wall"] for r in rounds))
    if status == "failed":
        return summary + ("; %s never ran at the same time in %d rounds where processes beside them did: "
                          "they share one lock" % (kind, len(rounds)))
    return summary + ("; inconclusive: the machine gave this check too little CPU to show parallelism (processes "
                      "used at most %.2f CPU s per wall s, %s %.2f; %.2f proves parallelism): a busy "
                      "machine? Run 'pybuild12 verify' again when it is quieter" % (
                          max(r["processes"]["cpu_per_wall"] for r in rounds), kind,
                          max(r[kind]["cpu_per_wall"] for r in rounds), proof_level(workers)))


def check_parallelism(api, workers):
    if needs_high("parallelism", api):
        return
    if workers < 2:
        record("parallelism", "skipped", "one CPU: there is nothing to run in parallel")
        return
    n = calibrate(0.25)
    with_threads = free_threaded()  # PEP 703: on a free-threaded build plain threads must scale as well
    checks = [("parallelism", "interpreters")] + ([("thread parallelism", "threads")] if with_threads else [])
    interps = [api.create() for _ in range(workers)]
    rounds = []
    try:
        for _ in range(ROUNDS):
            try:
                rounds.append(measure_round(api, interps, n, workers))
            except Exception as exc:
                record("parallelism", "failed", "own-GIL interpreters: " + describe(exc))
                return
            if all(verdict(rounds, kind, workers) != "inconclusive" for _, kind in checks):
                break
    finally:
        for interp in interps:
            interp.close()
    summary, figures = summarize(rounds, workers)
    for name, kind in checks:
        status = verdict(rounds, kind, workers)
        record(name, status, explain(name, status, kind, summary, workers, rounds), **figures)


def free_threaded():
    import sysconfig
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


# ---------------------------------------------------------- CPython's tests


def regression_modules(api):
    if api.low_name == "_xxsubinterpreters":
        return ["test_interpreters", "test__xxsubinterpreters", "test__xxinterpchannels"]
    if sys.version_info >= (3, 14):
        return ["test_interpreters", "test_concurrent_futures.test_interpreter_pool"]
    return ["test_interpreters", "test__interpreters", "test__interpchannels"]


def check_regression_tests(api):
    modules = regression_modules(api)
    if try_import("test.libregrtest")[0] is None:
        record("regression tests", "failed", "the test package is missing; CPython's own tests cannot run")
        return
    argv = [sys.executable, "-m", "test", "-u", "cpu", *modules]
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    took = round(time.perf_counter() - start, 1)
    counts = {}
    for line in proc.stdout.splitlines():
        line = line.strip()
        if line.startswith("Total tests:"):
            for part in line.split(":", 1)[1].split():
                key, _, value = part.partition("=")
                value = value.replace(",", "")  # regrtest writes run=1,234
                if value.isdigit():
                    counts[key] = int(value)
    summary = "python -m test -u cpu %s: %s in %.1fs" % (
        " ".join(modules), ", ".join("%s=%d" % kv for kv in counts.items()) or "no summary", took)
    status = "passed" if proc.returncode == 0 else "failed"
    if status == "failed":
        result = [line for line in proc.stdout.splitlines() if line.startswith(("Result:", "FAILED", "test_"))][-3:]
        summary += "; " + " | ".join(result)
    record("regression tests", status, summary, seconds=took, **counts)


def scaling(max_workers):
    """For benchmarks: speedups of interpreters, threads and processes at 1..max_workers.

    Each row also has the seconds of one worker and of all its workers per kind. An
    interpreter that cannot run sub-interpreters (say a free-threaded build that refuses
    them) still gets its thread and process figures: interpreters is None in every row
    from the one that failed on, and interpreters_error says why.
    """
    api = Api()
    n = calibrate()
    interps, error, rows = [], None, []
    try:
        for _ in range(max_workers):
            interps.append(api.create())
    except Exception as exc:
        error = describe(exc)
    try:
        for w in range(1, max_workers + 1):
            row = {"workers": w, "interpreters": None, "seconds_one_worker": {}, "seconds_all_workers": {}}
            timers = {"interpreters": lambda k: time_interpreters(api, interps, n, k),
                      "threads": lambda k: time_threads(n, k), "processes": lambda k: time_processes(n, k)}
            for kind, timer in timers.items():
                if kind == "interpreters" and error is not None:
                    continue
                try:
                    row[kind], row["seconds_one_worker"][kind], row["seconds_all_workers"][kind] = speedups(timer, w)
                except Exception as exc:
                    if kind != "interpreters":
                        raise
                    error = describe(exc)
            rows.append(row)
    finally:
        for interp in interps:
            interp.close()
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()  # PEP 703: an extension module can turn it back on
    print(json.dumps({"python": sys.version.split()[0], "api": api.as_json(), "iterations": n, "gil_enabled": gil,
                      "interpreters_error": error, "rows": rows}))


def main():
    if "--scaling" in sys.argv:
        return scaling(int(sys.argv[sys.argv.index("--scaling") + 1]))
    api = Api()
    if api.low is None:
        record("modules", "failed", "neither _interpreters nor _xxsubinterpreters can be imported")
    else:
        check_modules(api)
    check_high_level(api)
    check_helper()
    check_lifecycle(api)
    check_messages(api)
    workers = WORKERS or min(os.cpu_count() or 1, 4)
    check_threads(api, max(2, workers))
    check_clean_exit(api)
    check_parallelism(api, workers)
    if FULL:
        check_regression_tests(api)
    info = {"version": sys.version.split()[0], "full_version": sys.version, "executable": sys.executable,
            "isolated_interpreters": getattr(sys.implementation, "supports_isolated_interpreters", None)}
    print(json.dumps({"python": info, "api": api.as_json(), "checks": CHECKS}))


def guarded(func):
    """Run one check; an exception it did not expect becomes that check's failure, not a traceback."""
    def wrapper(*args):
        name = func.__name__.replace("check_", "").replace("_", " ")
        before = len(CHECKS)
        try:
            func(*args)
        except BaseException as exc:  # noqa: BLE001 - the report must always be printed
            if len(CHECKS) == before:
                record(name, "failed", "unexpected " + describe(exc))
    return wrapper


for _name in [n for n in list(globals()) if n.startswith("check_")]:
    globals()[_name] = guarded(globals()[_name])

if __name__ == "__main__":
    main()
