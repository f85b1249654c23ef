#!/usr/bin/env python3
"""Fuzz of the `demo` command line (issue #7).

Every option of every subcommand (and the global ones) gets a small
generated corpus of odd values: empty, negative, zero, huge (1e30,
99999999999999999999), non-numeric, unicode ("３", "½", an emoji), bytes
that are not UTF-8, format-string lookalikes, a missing value, the option
repeated, the `--opt=value` form; plus unknown options and stray arguments.
Each run must:
  - exit with 0, 1 or 2: never a signal, never a timeout (each run has
    TIMEOUT seconds; the base arguments keep valid runs tiny);
  - on a non-zero exit, print exactly one line on stderr that starts with
    "demo: " (the error; a run that fails late may print progress lines
    before it, which do not start with "demo: "), and for a usage error
    (exit 2) nothing else at all, and nothing on stdout;
  - never print a sanitizer report.
An exit 0 is fine for valid-but-odd input ("+1", a repeated flag).

    fuzz_cli.py --list                   # the case names (one per subcommand)
    fuzz_cli.py --demo PATH CASE...      # run cases; exit 1 if any run broke a rule
    fuzz_cli.py --demo PATH all
    fuzz_cli.py --demo PATH memcheck [VALGRIND]   # each subcommand under valgrind

Runs happen in a fresh temporary directory each (trace files land there);
device paths are only reached through symlinks in it, so that an old demo
that renames a temporary file over its --trace path replaces the symlink,
never the device.
"""

import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile
import time

DEMO = None
# Seconds a run may take. Under TSan, starting a thread takes ~35 ms here,
# so a run with --procs 1024 takes ~40 s.
TIMEOUT = 120 if os.environ.get("CORUN_E2E_SANITIZER") == "thread" else 20
# Under AddressSanitizer a run costs several times more (its start-up and
# shadow memory), so there each case runs every SAMPLE_STRIDE-th run of its
# corpus; every option keeps runs of its own (each has at least five in a
# row). Built without sanitizers, the whole corpus runs.
SAMPLE_STRIDE = 3 if os.environ.get("CORUN_E2E_SANITIZER") == "address" else 1
WORKERS = 4

# Values for any option that takes one.
CORPUS = [
    "", "-1", "0", "1e30", "99999999999999999999", "18446744073709551616", "abc", "0x10",
    "1.5", " 1", "３", "½", "😀", "{}", "%s%n", "-", "9" * 400, b"\xff\xfe",
]

# Values that are valid (or nearly) and must stay cheap with the base
# arguments: per kind of option. The first is valid.
EXTRA = {
    "procs": ["2", "1024", "1025", "+2"],
    "procs_list": ["1,2", "2,1,2", "1,1025", "1,,2", "1,"],
    "count": ["1k", "0k", "1X", "k", "99999999999999999999k"],
    "int": ["1", "01"],
    "seed": ["0", "9223372036854775807", "9223372036854775808"],
    "duration": ["1ms", "0ms", "0.5us", "ms", "1..2ms", "-1ms", "1 ms", "3601s", "1e30s",
                 "99999999999999999999ns"],
    "timeslice": ["1ms", "off", "0ms", "OFF", "0.5us", "-1ms", "1e30s", "99999999999999999999ns"],
    "format": ["table", "json", "csv", "JSON"],
    "variant": ["tasks", "letters", "channel", "Letters"],
    "workload": ["yield", "pingpong", "spawn", "skynet", "sleepers", "park", "cpu", "all",
                 "YIELD"],
    "trace": ["t.json", "-", "😀.json", "½/t.json", "/nonexistent-dir/t.json", ".",
              "a" * 300 + ".json", "devnull", "devfull", "/proc/version"],
}

# The subcommands: arguments that keep a valid run tiny, and each option
# with its kind (None: a flag). Short aliases get the corpus too.
SUBCOMMANDS = {
    "concurrent": {
        "base": ["--interval", "1ms", "--steps", "2", "--procs", "2"],
        "options": {
            "--procs": "procs", "-p": "procs", "--format": "format", "-f": "format",
            "--trace": "trace", "--variant": "variant", "--tasks": "int", "-t": "int",
            "--steps": "int", "-s": "int", "--interval": "duration", "-i": "duration",
            "--jitter": "duration", "--seed": "seed", "--timeline": None, "--wide": None,
            "--svg": "trace", "--explain": None,
        },
    },
    "parallel": {
        "base": ["--work", "1k", "--tasks", "2", "--procs", "2"],
        "options": {
            "--procs": "procs", "-p": "procs", "--format": "format", "-f": "format",
            "--trace": "trace", "--tasks": "int", "-t": "int", "--work": "count",
            "-w": "count", "--timeslice": "timeslice", "--timeline": None, "--wide": None,
            "--svg": "trace", "--explain": None,
        },
    },
    "compare": {
        "base": ["--procs", "1,2", "--runs", "1", "--sleepers", "10", "--sleep", "1ms",
                 "--work", "1k", "--cpu-tasks", "2"],
        "options": {
            "--procs": "procs_list", "-p": "procs_list", "--format": "format", "-f": "format",
            "--trace": "trace", "--runs": "int", "-r": "int", "--sleepers": "int",
            "--sleep": "duration", "--cpu-tasks": "int", "--work": "count", "-w": "count",
            "--max-threads": "int", "--threads": None, "--timeslice": "timeslice",
            "--timeline": None, "--wide": None,
            "--svg": "trace", "--explain": None,
            "--connections": "int", "--requests": "int", "--backend": "duration",
        },
    },
    "bench": {
        "base": ["yield", "--n", "1000", "--procs", "1"],
        "options": {
            "--procs": "procs", "-p": "procs", "--n": "count", "-n": "count", "--tasks": "int",
            "--format": "format", "-f": "format", "--wide": None,
        },
    },
}

# Aliases of the same option, so that the base's long form is dropped when
# the alias is fuzzed.
ALIASES = {"-p": "--procs", "-f": "--format", "-t": "--tasks", "-s": "--steps",
           "-i": "--interval", "-r": "--runs", "-w": "--work", "-n": "--n"}

SANITIZER = re.compile(r"runtime error:|AddressSanitizer|ThreadSanitizer|LeakSanitizer|"
                       r"UndefinedBehaviorSanitizer")


def arg_bytes(a):
    return a if isinstance(a, bytes) else os.fsencode(a)


def show(args):
    return " ".join(repr(a) if (isinstance(a, bytes) or a == "" or " " in a) else a
                    for a in args)


def drop(base, option):
    """base without `option` and its value (long or short form)."""
    names = {option, ALIASES.get(option, option)}
    out, i = [], 0
    while i < len(base):
        if base[i] in names:
            i += 2
            continue
        out.append(base[i])
        i += 1
    return out


def setup_dir(d):
    # Devices only through symlinks: see the module's docstring.
    os.symlink("/dev/null", os.path.join(d, "devnull"))
    os.symlink("/dev/full", os.path.join(d, "devfull"))


def run_one(args, env_extra=None):
    """Runs demo with `args`; returns a list of rule violations (strings)."""
    env = dict(os.environ)
    for k in ("GOMAXPROCS", "NO_COLOR", "SPDLOG_LEVEL", "CORUN_CHAOS"):
        env.pop(k, None)
    if env_extra:
        env.update(env_extra)
    with tempfile.TemporaryDirectory(prefix="demo-fuzz-") as d:
        setup_dir(d)
        start = time.monotonic()
        try:
            p = subprocess.run([DEMO, *map(arg_bytes, args)], capture_output=True, cwd=d,
                               env=env, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            return [f"demo {show(args)} {env_extra or ''}: timed out after {TIMEOUT} s"]
        took = time.monotonic() - start
        # --trace to a device writes to the device, it does not replace it.
        replaced = [n for n in ("devnull", "devfull") if not os.path.islink(os.path.join(d, n))]
    rc = p.returncode
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    problems = []
    if rc < 0:
        problems.append(f"killed by signal {-rc}")
    elif rc not in (0, 1, 2):
        problems.append(f"exit {rc}, expected 0, 1 or 2")
    if replaced:
        problems.append(f"replaced {replaced} (a symlink to a device) instead of writing to it")
    if SANITIZER.search(err):
        problems.append("sanitizer report")
    if rc in (1, 2):
        lines = err.splitlines()
        demo_lines = [l for l in lines if l.startswith("demo: ")]
        if len(demo_lines) != 1 or not lines or not lines[-1].startswith("demo: "):
            problems.append("expected exactly one error line starting with 'demo: ', last")
        if rc == 2 and len(lines) != 1:
            problems.append("a usage error must print one line on stderr and nothing else")
        if rc == 2 and out:
            problems.append("a usage error must print nothing on stdout")
    if problems:
        return [f"demo {show(args)} {env_extra or ''}: " + "; ".join(problems) +
                f" ({took:.1f} s)\n  stderr: {err[-600:]!r}"]
    return []


def cases_for(sub):
    spec = SUBCOMMANDS[sub]
    base, runs = spec["base"], []
    for option, kind in spec["options"].items():
        rest = drop(base, option)
        if kind is None:  # a flag
            runs += [[sub, *rest, option], [sub, *rest, option, option],
                     [sub, *rest, f"{option}=1"], [sub, *rest, f"{option}=maybe"],
                     [sub, *rest, f"{option}="], [sub, *rest, option, "extra"]]
            continue
        valid = EXTRA[kind][0]
        if option in ALIASES:  # the same parser as the long form: a few values
            values = ["abc", valid]
        else:
            values = CORPUS + EXTRA[kind]
        runs += [[sub, *rest, option, value] for value in values]
        # --opt=value, a missing value (last, or before another option), the
        # option repeated.
        runs += [
            [sub, *rest, f"{option}=" if option.startswith("--") else option],
            [sub, *rest, option],
            [sub, option, *rest],
            [sub, *rest, option, valid, option, "abc"],
        ]
        if option.startswith("--"):
            runs.append([sub, *rest, f"{option}={valid}"])
    if sub == "bench":  # the positional workload
        runs += [[sub, w, *base[1:]] for w in CORPUS + EXTRA["workload"]]
        runs += [[sub, *base[1:]], [sub, "yield", "cpu", *base[1:]]]
    # Unknown options and stray arguments.
    for junk in (["--bogus"], ["-z"], ["--bogus=1"], ["--"], ["-"], ["extra"], ["😀"],
                 [b"\xff"], ["--help"]):
        runs.append([sub, *base, *junk])
    # Global options, before and after the subcommand.
    for flags in (["-vv"], ["-q", "-v"], ["--quiet=no"]):
        runs.append([*flags, sub, *base])
        runs.append([sub, *base, *flags])
    return runs


def global_cases():
    runs = [[], ["--help"], ["--version"], ["--version", "x"], ["-h", "concurrent"], ["bogus"],
            ["😀"], [""], ["--bogus"], ["-"], ["--"], ["-v"], ["-q"], ["--no-color"],
            ["concurrent", "parallel"], ["help"], [b"\xff\xfe"]]
    return [(r, None) for r in runs]


def env_cases():
    # GOMAXPROCS is read by every subcommand that takes --procs.
    runs = []
    for value in [v for v in CORPUS + EXTRA["procs"] if isinstance(v, str)]:
        runs.append((["concurrent", "--interval", "1ms", "--steps", "1"], {"GOMAXPROCS": value}))
        runs.append((["parallel", "--work", "1k", "--tasks", "1"], {"GOMAXPROCS": value}))
    runs.append((["bench", "yield", "--n", "100"], {"GOMAXPROCS": "abc"}))
    runs.append((["compare", "--runs", "1", "--sleepers", "1", "--sleep", "1ms", "--work", "1k"],
                 {"GOMAXPROCS": "1025"}))
    return runs


# memcheck (not in --list, not in `all`: ctest label memcheck, outside the
# default presets): a short run of each subcommand under valgrind; any error
# or definite/indirect leak fails. Coroutine stacks are ~260 KiB apart:
# --max-stackframe tells valgrind that a jump of the stack pointer that big
# is a switch to another stack, not a huge frame (else it reports
# "uninitialised" values at every context switch).
MEMCHECK_RUNS = [
    ["concurrent", "--interval", "1ms", "--steps", "2", "--procs", "2"],
    ["concurrent", "--variant", "letters", "--interval", "1ms", "--format", "json", "--trace",
     "t.json", "--timeline"],
    ["parallel", "--work", "1M", "--tasks", "3", "--procs", "2", "--timeline"],
    ["concurrent", "--variant", "channel", "--interval", "1ms", "--steps", "2", "--tasks", "3",
     "--timeline", "--explain", "--trace", "t.json", "--svg", "p.svg"],
    ["compare", "--procs", "1,2", "--runs", "1", "--sleepers", "100", "--sleep", "1ms", "--work",
     "1M", "--cpu-tasks", "2", "--threads", "--max-threads", "50", "--format", "csv"],
    ["bench", "all", "--n", "1000", "--procs", "2"],
    ["parallel", "--procs", "abc"],  # a usage error
]


def memcheck(valgrind):
    problems = []

    def one(args):
        with tempfile.TemporaryDirectory(prefix="demo-memcheck-") as d:
            cmd = [valgrind, "--tool=memcheck", "--max-stackframe=131072", "--leak-check=full",
                   "--show-leak-kinds=definite,indirect", "--errors-for-leak-kinds=definite,indirect",
                   "--error-exitcode=99", "-q", DEMO, *args]
            try:
                p = subprocess.run(cmd, capture_output=True, text=True, cwd=d, timeout=300)
            except subprocess.TimeoutExpired:
                return [f"demo {show(args)}: timed out under valgrind"]
        if p.returncode not in (0, 2) or "==" in p.stderr:
            return [f"demo {show(args)}: exit {p.returncode} under valgrind\n{p.stderr[-3000:]}"]
        return []

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        for result in pool.map(one, MEMCHECK_RUNS):
            problems += result
    return len(MEMCHECK_RUNS), problems


CASES = {
    **{sub: (lambda sub=sub: [(r, None) for r in cases_for(sub)]) for sub in SUBCOMMANDS},
    "global": global_cases,
    "gomaxprocs": env_cases,
}


def run_case(name):
    runs = CASES[name]()[::SAMPLE_STRIDE]
    problems = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for result in pool.map(lambda r: run_one(*r), runs):
            problems += result
    return len(runs), problems


def main(argv):
    global DEMO
    if argv[1:] == ["--list"]:
        print("\n".join(CASES))
        return 0
    if len(argv) < 4 or argv[1] != "--demo":
        print(__doc__, file=sys.stderr)
        return 2
    DEMO = os.path.abspath(argv[2])
    if argv[3] == "memcheck":  # fuzz_cli.py --demo PATH memcheck VALGRIND
        start = time.monotonic()
        n, problems = memcheck(argv[4] if len(argv) > 4 else "valgrind")
        for p in problems:
            print(p)
        print(f"{'FAIL' if problems else 'ok  '} memcheck: {n} runs "
              f"({time.monotonic() - start:.1f} s)")
        return 1 if problems else 0
    names = list(CASES) if argv[3:] == ["all"] else argv[3:]
    failed = 0
    for name in names:
        if name not in CASES:
            print(f"unknown case {name}", file=sys.stderr)
            return 2
        start = time.monotonic()
        n, problems = run_case(name)
        took = time.monotonic() - start
        if problems:
            failed += 1
            print(f"FAIL {name}: {len(problems)} of {n} runs broke a rule ({took:.1f} s)")
            for p in problems[:40]:
                print("  " + p)
        else:
            sampled = f", 1 in {SAMPLE_STRIDE} of the corpus" if SAMPLE_STRIDE > 1 else ""
            print(f"ok   {name}: {n} runs{sampled} ({took:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
