#!/usr/bin/env python3
"""End-to-end tests of the `demo` executable.

Each case runs the built binary and checks what it prints. ctest runs one
case per test (tests/e2e/CMakeLists.txt):

    run_e2e.py --list                  # the case names
    run_e2e.py --demo PATH CASE...     # run cases; exit 1 on the first failure
    run_e2e.py --demo PATH all         # every case

Cases keep their runs short (small --interval, --work, --sleepers) and their
timing assertions loose: they must pass on a loaded two-core machine.
"""

import csv
import functools
import io
import json
import math
import os
import pty
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
import zlib

DEMO = None
TIMEOUT = 90
CASES = {}
MASK = (1 << 64) - 1
# WORKLOADS.md: cpu with n = 400,000,000 split over 2 tasks.
KNOWN_CHECKSUM_2X200M = 5585640942491931907
# The sums of tasks 0 and 1 after 50,000,000 iterations (too slow for
# task_sum(); computed once with a C version of the loop).
KNOWN_SUMS_50M = (15849196909631456416, 2660599927758295463)
# The same after 2,000,000 iterations.
KNOWN_SUMS_2M = (3615910943769855089, 11645036472241177819)


def case(fn):
    CASES[fn.__name__.removeprefix("case_")] = fn
    return fn


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def run(*args, env=None, timeout=TIMEOUT):
    full_env = dict(os.environ)
    full_env.pop("GOMAXPROCS", None)
    full_env.pop("NO_COLOR", None)
    full_env.pop("SPDLOG_LEVEL", None)
    if env:
        full_env.update(env)
    p = subprocess.run([DEMO, *args], capture_output=True, text=True, env=full_env,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def run_ok(*args, env=None):
    rc, out, err = run(*args, env=env)
    check(rc == 0, f"demo {' '.join(args)}: exit {rc}\nstdout:\n{out}\nstderr:\n{err}")
    return out, err


def run_json(*args, env=None):
    out, err = run_ok(*args, "--format", "json", env=env)
    try:
        return json.loads(out), err
    except json.JSONDecodeError as e:
        raise Failure(f"stdout is not JSON ({e}):\n{out}")


def run_csv(*args, env=None):
    out, err = run_ok(*args, "--format", "csv", env=env)
    return list(csv.DictReader(io.StringIO(out))), out, err


@functools.lru_cache(maxsize=None)
def task_sum(index, iters):
    """WORKLOADS.md's xorshift loop for task `index` (x = 2 * index + 1)."""
    x = 2 * index + 1
    s = 0
    for _ in range(iters):
        x ^= (x << 13) & MASK
        x ^= x >> 7
        x ^= (x << 17) & MASK
        s = (s + x) & MASK
    return s


STEP_LINE = re.compile(r"^ *\d+\.\d ms  P(\d+)  G(\d+)  (.+): (\S+)$")

# ---------------------------------------------------------------------------
# demo concurrent


@case
def case_concurrent_table():
    out, _ = run_ok("concurrent", "--procs", "1", "--interval", "100ms", "--wide")
    steps = [STEP_LINE.match(line) for line in out.splitlines()]
    steps = [m for m in steps if m]
    check(len(steps) == 6, f"expected 6 step lines, got {len(steps)}:\n{out}")
    check({(m.group(3), m.group(4)) for m in steps} ==
          {(t, str(s)) for t in ("Task A", "Task B") for s in (1, 2, 3)},
          f"not every step of Task A and Task B:\n{out}")
    check(all(m.group(1) == "0" for m in steps), f"--procs 1: every step on P0:\n{out}")
    check("All tasks done." in out, out)
    check(re.search(r"2 tasks slept 400 ms in total; wall time \d+ ms on 1 worker"
                    r"( \(\d+ ms from the first task's start\))?: "
                    r"their waits overlapped \(concurrency\)", out), f"no summary:\n{out}")


@case
def case_concurrent_json():
    doc, err = run_json("concurrent", "--procs", "1", "--tasks", "4", "--steps", "5",
                        "--interval", "20ms")
    check(doc["command"] == "concurrent" and doc["variant"] == "tasks", doc)
    check(doc["procs"] == 1 and doc["tasks"] == 4 and doc["steps"] == 5, doc)
    check(doc["interval_ms"] == 20, doc)
    events = doc["events"]
    check(len(events) == 20, f"expected 20 events, got {len(events)}")
    names = [f"Task {c}" for c in "ABCD"]
    check({(e["task"], e["step"]) for e in events} ==
          {(t, s) for t in names for s in range(1, 6)}, "not every step of every task")
    for e in events:
        check(set(e) == {"t_ms", "worker", "coroutine", "task", "step", "value"}, e)
        check(e["worker"] == 0 and e["value"] == str(e["step"]), e)
    for task in names:  # each task's steps in order, an interval apart
        times = [e["t_ms"] for e in events if e["task"] == task]
        check(times == sorted(times), f"{task} steps out of order")
        check(all(b - a >= 19 for a, b in zip(times, times[1:])), f"{task}: {times}")
    check(doc["workers_used"] == [0], doc["workers_used"])
    check(doc["slept_ms"] == 320, doc["slept_ms"])  # 4 tasks x 4 sleeps between 5 steps
    # Concurrency: 320 ms of sleeps in about 80 ms on one worker. Run one
    # after the other they would take 320 ms: anything well below proves the
    # overlap (bounds generous for sanitizer builds on a loaded machine).
    # The overlap counts from the first task's start: the runtime's start-up
    # (long under sanitizers) is not waiting.
    tasks_ms = doc["wall_ms"] - doc["first_start_ms"]
    check(80 <= tasks_ms < 0.8 * doc["slept_ms"], f"wall_ms {doc['wall_ms']}, first start "
          f"{doc['first_start_ms']}")
    check(0 <= doc["first_start_ms"] <= min(e["t_ms"] for e in events), doc["first_start_ms"])
    check(abs(doc["overlap"] - doc["slept_ms"] / tasks_ms) < 0.01, doc["overlap"])
    check(doc["overlap"] > 1.25, doc["overlap"])
    check(doc["interrupted"] is False, doc)
    check("overlapped (concurrency)" in doc["summary"], doc["summary"])
    ids = {t["task"]: t["coroutine"] for t in doc["task_list"]}
    check(all(ids[e["task"]] == e["coroutine"] for e in events), "coroutine ids differ")
    check(all(t["steps_done"] == 5 for t in doc["task_list"]), doc["task_list"])
    # The live lines went to stderr, so stdout parsed.
    check(len([l for l in err.splitlines() if STEP_LINE.match(l)]) == 20, err)


@case
def case_concurrent_csv():
    rows, out, _ = run_csv("concurrent", "--procs", "2", "--tasks", "3", "--steps", "2",
                           "--interval", "5ms")
    check(out.splitlines()[0].startswith("record,t_ms,worker,coroutine,task,step,value,"), out)
    rows = [r for r in rows if r["record"] == "event"]
    check(len(rows) == 6, out)
    check({(r["task"], r["step"]) for r in rows} ==
          {(f"Task {c}", str(s)) for c in "ABC" for s in (1, 2)}, out)
    check(all(r["worker"] in ("0", "1") for r in rows), out)
    check(all(float(r["t_ms"]) >= 0 for r in rows), out)


@case
def case_concurrent_letters():
    doc, _ = run_json("concurrent", "--variant", "letters", "--interval", "5ms", "--procs", "1")
    check(doc["variant"] == "letters" and doc["tasks"] == 2 and doc["steps"] == 10, doc)
    numbers = [e["value"] for e in doc["events"] if e["task"] == "Numbers"]
    letters = [e["value"] for e in doc["events"] if e["task"] == "Letters"]
    check(numbers == [str(i) for i in range(1, 11)], numbers)
    check(letters == list("abcdefghij"), letters)
    # Seed 003 sleeps before printing: the first line comes after an interval.
    check(min(e["t_ms"] for e in doc["events"]) >= 4.5, doc["events"][0])


@case
def case_concurrent_durations():
    for text, ms in (("1.5ms", 1.5), ("500us", 0.5), ("0.002s", 2), ("250000ns", 0.25)):
        doc, _ = run_json("concurrent", "--interval", text, "--steps", "2")
        check(doc["interval_ms"] == ms, f"{text}: {doc['interval_ms']}")


@case
def case_concurrent_jitter_seed():
    def draws(seed):
        doc, _ = run_json("concurrent", "--interval", "1ms", "--jitter", "5ms", "--seed", seed,
                          "--steps", "4", "--tasks", "2")
        return [t["slept_ms"] for t in doc["task_list"]], doc

    a, doc = draws("7")
    b, _ = draws("7")
    c, _ = draws("8")
    check(doc["seed"] == 7 and doc["jitter_ms"] == 5, doc)
    check(a == b, f"same --seed, different sleeps: {a} {b}")
    check(a != c, f"different --seed, same sleeps: {a} {c}")
    check(all(3 <= s <= 18 for s in a), a)  # 3 sleeps between 4 steps, 1 to 6 ms each


# ---------------------------------------------------------------------------
# demo parallel


@case
def case_parallel_json_checksums():
    work = 300_000
    doc, _ = run_json("parallel", "--procs", "2", "--tasks", "3", "--work", "300k")
    check(doc["command"] == "parallel", doc)
    check(doc["procs"] == 2 and doc["tasks"] == 3 and doc["work"] == work, doc)
    results = doc["results"]
    check(sorted(r["index"] for r in results) == [0, 1, 2], results)
    total = 0
    for r in results:
        expected = task_sum(r["index"], work)
        check(int(r["checksum"]) == expected,
              f"task {r['index']}: {r['checksum']} != {expected}")
        check(r["iterations"] == work and r["completed"] is True, r)
        check(r["task"] == f"Task {r['index'] + 1}", r)
        check(r["worker"] in (0, 1) and r["start_worker"] in (0, 1), r)
        check(0 <= r["start_ms"] <= r["finish_ms"] <= doc["wall_ms"] + 0.01, r)
        check(r["cpu_ms"] > 0, r)
        total = (total + expected) & MASK
    check(int(doc["checksum"]) == total, f"{doc['checksum']} != {total}")
    finish = [r["finish_ms"] for r in results]
    check(finish == sorted(finish), "results are not in finishing order")
    for key in ("wall_ms", "cpu_ms", "user_ms", "sys_ms", "task_cpu_ms", "speedup"):
        check(isinstance(doc[key], (int, float)) and doc[key] >= 0, f"{key}: {doc[key]}")
    check(doc["speedup_method"].startswith("estimate"), doc)
    check(doc["interrupted"] is False, doc)


@case
def case_parallel_known_checksum():
    doc, _ = run_json("parallel", "--procs", "2", "--tasks", "2", "--work", "200M")
    check(int(doc["checksum"]) == KNOWN_CHECKSUM_2X200M,
          f"{doc['checksum']} != {KNOWN_CHECKSUM_2X200M} (WORKLOADS.md)")


@case
def case_parallel_one_worker_is_sequential():
    doc, _ = run_json("parallel", "--procs", "1", "--tasks", "3", "--work", "2M",
                      "--timeslice", "off")
    results = doc["results"]
    check(len(results) == 3 and all(r["worker"] == 0 for r in results), results)
    for a, b in zip(results, results[1:]):
        check(b["start_ms"] >= a["finish_ms"], f"on one worker {b['task']} started before "
              f"{a['task']} finished: {results}")
    check("one after another" in doc["summary"], doc["summary"])
    check(doc["time_slice_ms"] == 0 and doc["preemptions"] == 0, doc)
    doc, _ = run_json("parallel", "--procs", "1", "--work", "1k", "--timeslice", "0ms")
    check(doc["time_slice_ms"] == 0, "--timeslice 0ms is off")


@case
def case_parallel_tasks_default_to_procs():
    doc, _ = run_json("parallel", "--procs", "3", "--work", "10k")
    check(doc["tasks"] == 3 and len(doc["results"]) == 3, doc)
    doc, _ = run_json("parallel", "--procs", "1", "--work", "10k")
    check(doc["tasks"] == 2 and len(doc["results"]) == 2, "procs 1: at least 2 tasks")


# Time slicing: 2 tasks x 50M iterations on one worker are 100+ ms of CPU
# each (several 10 ms time slices even on a fast, idle machine).
SLICED = ("parallel", "--procs", "1", "--tasks", "2", "--work", "50M")


def worker_runs(events, tid=0):
    """The X slices of worker `tid` in time order: (task, start_us, end_us, stop)."""
    runs = [(e["name"], e["ts"], e["ts"] + e["dur"], e["args"]["stop"]) for e in events
            if e["ph"] == "X" and e["pid"] < 1000 and e["tid"] == tid]
    return sorted(runs, key=lambda r: r[1])


def turns(runs):
    """The task names of consecutive runs, repeats merged: [1, 2, 1] is 2 changes."""
    out = []
    for name, *_ in runs:
        if not out or out[-1] != name:
            out.append(name)
    return out


def sliced_run(*extra):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "t.json")
        doc, err = run_json(*SLICED, "--trace", path, *extra)
        events = load_trace(path)
    expected = sum(KNOWN_SUMS_50M) & MASK
    check(int(doc["checksum"]) == expected, f"checksum {doc['checksum']} != {expected}")
    for r in doc["results"]:
        check(int(r["checksum"]) == KNOWN_SUMS_50M[r["index"]] and r["completed"] is True, r)
        check(r["worker"] == 0 and r["cpu_ms"] > 0, r)
    check(doc["preemptions"] == sum(r["preemptions"] for r in doc["results"]), doc)
    check(doc["cpu_method"].startswith("thread CPU clock"), doc["cpu_method"])
    return doc, err, events


@case
def case_parallel_time_slicing():
    doc, _, events = sliced_run()
    check(doc["time_slice_ms"] == 10, doc["time_slice_ms"])
    check(doc["preemptions"] > 0, f"no preemption on one worker: {doc}")
    runs = worker_runs(events)
    check({r[0] for r in runs} == {"Task 1", "Task 2"}, runs)
    order = turns(runs)
    check(len(order) >= 3, f"the tasks did not take turns on P0 (need 1,2,1 at least): {order}")
    preempted = [r for r in runs if r[3] == "preempt"]
    check(len(preempted) == doc["preemptions"], f"{len(preempted)} preempt slices, "
          f"{doc['preemptions']} preemptions")
    check(all(r[3] in ("preempt", "exit") for r in runs), runs)
    check("took turns on one worker (time slicing): concurrency without parallelism"
          in doc["summary"], doc["summary"])
    # Each task's CPU time is its own iterations' (the same work: about the
    # same time), not the worker's while it waited for its turn.
    a, b = (r["cpu_ms"] for r in doc["results"])
    check(0.5 < a / b < 2, f"CPU times of equal tasks: {a} and {b} ms")


@case
def case_parallel_time_slice_off():
    doc, _, events = sliced_run("--timeslice", "off")
    check(doc["time_slice_ms"] == 0 and doc["preemptions"] == 0, doc)
    check(all(r["preemptions"] == 0 for r in doc["results"]), doc["results"])
    runs = worker_runs(events)
    order = turns(runs)
    check(sorted(order) == ["Task 1", "Task 2"], f"a task ran in pieces: {order}")
    first = [r for r in runs if r[0] == order[0]]
    second = [r for r in runs if r[0] == order[1]]
    check(max(r[2] for r in first) <= min(r[1] for r in second), runs)
    check(all(r[3] == "exit" for r in runs), runs)
    check("each task ran to completion before the next started" in doc["summary"],
          doc["summary"])


@case
def case_parallel_trace_shares_the_zero():
    """Printed times count from the trace's zero (Runtime::trace_epoch()): a
    task notes its start while running and its finish before it exits."""
    doc, _, events = sliced_run()
    runs = worker_runs(events)
    for r in doc["results"]:
        mine = [x for x in runs if x[0] == r["task"]]
        first_start_ms = mine[0][1] / 1e3
        last_end_ms = max(x[2] for x in mine) / 1e3
        check(first_start_ms - 0.002 <= r["start_ms"] <= mine[0][2] / 1e3 + 0.002,
              f"{r['task']} started at {r['start_ms']} ms, its first run is "
              f"{first_start_ms}..{mine[0][2] / 1e3} ms")
        check(r["finish_ms"] <= last_end_ms + 0.002,
              f"{r['task']} finished at {r['finish_ms']} ms, its last run ended {last_end_ms}")
    check(doc["wall_ms"] <= max(x[2] for x in runs) / 1e3 + 0.002, doc["wall_ms"])


@case
def case_parallel_timeline_turns():
    out, _ = run_ok(*SLICED, "--timeline")
    rows = [m for m in map(TIMELINE_ROW.match, out.splitlines()) if m]
    check([m.group(1) for m in rows] == ["0"], out)
    cells = rows[0].group(2).replace(".", "").replace("*", "").replace("~", "")
    if len(turns([(c,) for c in cells])) < 3:
        # On a busy machine the worker's row is mostly "~" (its thread off
        # the CPU, which the row shows instead of the task); the tasks' own
        # rows still show them taking turns, running and runnable.
        task_rows = re.findall(r"^ *Task \d+ \|([^|]*)\|", out, re.M)
        check(len(task_rows) == 2, out)
        for row in task_rows:
            check(len(turns([(c,) for c in row.strip()])) >= 3, f"no turns:\n{out}")
    check(re.search(r"\d+ preemptions? \(a letter gives way where its time slice ran out\)",
                    out), f"the legend does not count the preemptions:\n{out}")
    check(re.search(r"^Time slice: 10 ms; tasks were preempted (once|\d+ times)", out, re.M),
          out)
    check(re.search(r"^Task CPU time: thread CPU clock", out, re.M), out)
    out, _ = run_ok(*SLICED, "--timeline", "--timeslice", "off")
    rows = [m for m in map(TIMELINE_ROW.match, out.splitlines()) if m]
    cells = rows[0].group(2).replace(".", "").replace("*", "").replace("~", "")
    check(turns([(c,) for c in cells]) == ["1", "2"], f"off: not one after another:\n{out}")
    check("Time slice: off: no task was preempted" in out, out)


@case
def case_parallel_table():
    out, _ = run_ok("parallel", "--procs", "2", "--tasks", "2", "--work", "200k", "--wide")
    check(re.search(r"^Using 2 procs \(\d+ CPUs? available\)$", out, re.M), out)
    finished = re.findall(r"^ *\d+\.\d ms  P[01]  G\d+  Task ([12]) finished with sum (\d+) "
                          r"\(started at \d+\.\d ms.*, CPU \d+\.\d ms\)$", out, re.M)
    check(sorted(t for t, _ in finished) == ["1", "2"], out)
    for t, s in finished:
        check(int(s) == task_sum(int(t) - 1, 200_000), f"Task {t} sum {s}")
    check(re.search(r"^Wall time \d+ ms; CPU time \d+ ms", out, re.M), out)
    check(re.search(r"^Speedup over 1 worker: \d+\.\d\dx \(estimated", out, re.M), out)
    total = (task_sum(0, 200_000) + task_sum(1, 200_000)) & MASK
    check(f"Checksum (sum of the task sums): {total}" in out, out)


@case
def case_parallel_csv():
    rows, out, _ = run_csv("parallel", "--procs", "2", "--tasks", "2", "--work", "100k")
    check(out.splitlines()[0].startswith(
        "record,task,index,coroutine,start_worker,worker,start_ms,finish_ms,"
        "cpu_ms,iterations,checksum,completed,preemptions,"), out)
    rows = [r for r in rows if r["record"] == "task"]
    check(len(rows) == 2, out)
    for r in rows:
        check(int(r["checksum"]) == task_sum(int(r["index"]), 100_000), r)
        check(r["completed"] == "true" and r["iterations"] == "100000", r)


# ---------------------------------------------------------------------------
# demo compare

COMPARE_SMALL = ("compare", "--procs", "1,2", "--runs", "2", "--sleepers", "200", "--sleep",
                 "20ms", "--work", "500k")
COMPARE_FIELDS = ["workload", "runner", "procs", "tasks", "runs", "wall_ms_median",
                  "wall_ms_min", "wall_ms_max", "cpu_ms_median", "speedup", "efficiency",
                  "requests", "requests_per_s", "startup_ms_median", "rss_growth_kib_median",
                  "rss_kib_per_task", "preemptions", "checksum"]


@case
def case_compare_json():
    doc, _ = run_json(*COMPARE_SMALL)
    check(doc["command"] == "compare" and doc["procs"] == [1, 2] and doc["runs"] == 2, doc)
    check(doc["sleepers"] == 200 and doc["sleep_ms"] == 20 and doc["cpu_tasks"] == 2, doc)
    rows = doc["rows"]
    check([(r["workload"], r["runner"], r["procs"]) for r in rows] ==
          [("sleep-bound", "coroutines", 1), ("sleep-bound", "coroutines", 2),
           ("cpu-bound", "coroutines", 1), ("cpu-bound", "coroutines", 2),
           ("io-bound", "coroutines", 1), ("io-bound", "coroutines", 2),
           ("io-bound", "threads", None)], rows)
    check(doc["connections"] == 50 and doc["requests_per_connection"] == 4 and
          doc["backend_ms"] == 10, doc)
    expected = (task_sum(0, 500_000) + task_sum(1, 500_000)) & MASK
    for r in rows:
        for key in COMPARE_FIELDS:
            check(key in r, f"row without {key}: {r}")
        check(r["runs"] == 2 and len(r["samples"]) == 2, r)
        check(r["wall_ms_min"] <= r["wall_ms_median"] <= r["wall_ms_max"], r)
        if r["procs"] == 1:
            check(r["speedup"] == 1 and r["efficiency"] == 1, r)
        if r["runner"] == "coroutines":
            check(r["efficiency"] == round(r["speedup"] / r["procs"], 3) or
                  abs(r["efficiency"] - r["speedup"] / r["procs"]) < 0.002, r)
        if r["workload"] != "io-bound":
            check(r["requests"] is None and r["requests_per_s"] is None, r)
        if r["workload"] == "io-bound":
            check_io_row(r, 50, 4, 10)
        elif r["workload"] == "sleep-bound":
            check(r["tasks"] == 200 and r["checksum"] is None, r)
            check(r["preemptions"] is None, r)  # not traced: not counted
            # Every sleeper sleeps 20 ms and they all overlap, so the run takes far
            # less than the 4000 ms that 200 sleeps one after another would. The
            # bound leaves room for a sanitizer build, where creating a coroutine
            # costs milliseconds (ThreadSanitizer gives each one its own state).
            check(20 <= r["wall_ms_median"] < 0.75 * 200 * 20, r)
        else:
            check(r["tasks"] == 2 and int(r["checksum"]) == expected, r)
            check(isinstance(r["preemptions"], (int, float)) and r["preemptions"] >= 0, r)
            check(all(s["preemptions"] >= 0 for s in r["samples"]), r)
    check(doc["time_slice_ms"] == 10, doc)
    check(len(doc["conclusions"]) == 3, doc["conclusions"])
    check(doc["conclusions"][0].startswith("sleep-bound:"), doc["conclusions"])
    check(doc["conclusions"][1].startswith("cpu-bound:"), doc["conclusions"])
    check(doc["conclusions"][2].startswith("io-bound:"), doc["conclusions"])
    check(doc["interrupted"] is False and doc["peak_rss_kib"] > 0, doc)


@case
def case_compare_csv():
    rows, out, _ = run_csv(*COMPARE_SMALL)
    check(out.splitlines()[0].startswith(",".join(["record"] + COMPARE_FIELDS) + ","), out)
    rows = [r for r in rows if r["record"] == "row"]
    check(len(rows) == 7, out)
    check([r["procs"] for r in rows] == ["1", "2", "1", "2", "1", "2", ""], out)
    check([r["requests"] for r in rows] == [""] * 4 + ["200"] * 3, out)
    check(all(float(r["wall_ms_median"]) > 0 for r in rows), out)


@case
def case_compare_threads():
    doc, _ = run_json(*COMPARE_SMALL, "--threads", "--max-threads", "50")
    rows = doc["rows"]
    threads = [r for r in rows if r["runner"] == "threads"]
    check(len(rows) == 9 and len(threads) == 3, rows)
    io_threads = next(r for r in threads if r["workload"] == "io-bound")
    check(io_threads["tasks"] == 25 and io_threads["requests"] == 100, io_threads)
    check(any(c.startswith("io-bound:") and "(50 threads)" in c and
              "connections capped at 25: --max-threads" in c for c in doc["conclusions"]),
          doc["conclusions"])
    sleep = next(r for r in threads if r["workload"] == "sleep-bound")
    check(sleep["tasks"] == 50 and sleep["procs"] is None and sleep["efficiency"] is None, sleep)
    check(sleep["speedup"] is not None, sleep)
    cpu = next(r for r in threads if r["workload"] == "cpu-bound")
    check(int(cpu["checksum"]) == (task_sum(0, 500_000) + task_sum(1, 500_000)) & MASK, cpu)
    check(any(c.startswith("threads:") and "capped at 50" in c for c in doc["conclusions"]),
          doc["conclusions"])


@case
def case_compare_table():
    out, _ = run_ok(*COMPARE_SMALL, "--wide")
    check(re.search(r"^workload +runner +procs +tasks +wall ms +min-max ms +CPU ms +"
                    r"speedup +efficiency", out, re.M), out)
    check(len(re.findall(r"^(sleep|cpu)-bound +coroutines +[12] ", out, re.M)) == 4, out)
    check(len(re.findall(r"^io-bound +coroutines +[12] ", out, re.M)) == 2, out)
    check(len(re.findall(r"^io-bound +threads +- ", out, re.M)) == 1, out)
    check(re.search(r"^sleep-bound: ", out, re.M), out)
    check(re.search(r"^cpu-bound: ", out, re.M), out)
    check(re.search(r"^io-bound: ", out, re.M), out)
    check("Speedup vs procs=1" in out, out)
    check(re.search(r"^Time slice: 10 ms$", out, re.M), out)
    check(re.search(r"KiB/task +preemptions$", out, re.M), out)
    check(len(re.findall(r"procs=[12] +[#█▏▎▍▌▋▊▉]+ +\d+\.\d\dx$", out, re.M)) == 6, out)


@case
def case_compare_time_slice():
    base = ("compare", "--procs", "1", "--runs", "1", "--sleepers", "10", "--sleep", "1ms",
            "--cpu-tasks", "2", "--work", "50M")
    doc, err = run_json(*base)
    check(re.search(r"^Time slice: 10 ms$", err, re.M), err)
    cpu = next(r for r in doc["rows"] if r["workload"] == "cpu-bound")
    check(cpu["preemptions"] > 0, f"2 CPU-bound tasks on one worker: no preemption: {cpu}")
    doc, err = run_json(*base, "--timeslice", "off")
    check(re.search(r"^Time slice: off \(run to completion\)$", err, re.M), err)
    check(doc["time_slice_ms"] == 0, doc)
    cpu = next(r for r in doc["rows"] if r["workload"] == "cpu-bound")
    check(cpu["preemptions"] == 0 and cpu["samples"][0]["preemptions"] == 0, cpu)
    check(int(cpu["checksum"]) == sum(KNOWN_SUMS_50M) & MASK, cpu)
    rows, out, _ = run_csv(*base, "--timeslice", "1ms")
    rows = [r for r in rows if r["record"] == "row"]
    check(rows[0]["preemptions"] == "" and int(rows[1]["preemptions"]) > 0, out)


@case
def case_compare_adds_baseline():
    doc, _ = run_json("compare", "--procs", "2", "--runs", "1", "--sleepers", "10", "--sleep",
                      "1ms", "--work", "10k")
    check(doc["procs"] == [1, 2], doc["procs"])


# ---------------------------------------------------------------------------
# --timeline and --trace

TIMELINE_ROW = re.compile(r"^ +P(\d+) \|([^|]*)\| +\d+%(?: ~ *\d+%)?$")


@case
def case_timeline_concurrent():
    out, _ = run_ok("concurrent", "--procs", "2", "--interval", "10ms", "--timeline")
    rows = [TIMELINE_ROW.match(line) for line in out.splitlines()]
    rows = [m for m in rows if m]
    check([m.group(1) for m in rows] == ["0", "1"], out)
    check(len({len(m.group(2)) for m in rows}) == 1, "rows of different widths")
    cells = "".join(m.group(2) for m in rows)
    check(set(cells) <= set("AB*.~"), f"unexpected symbols: {cells}")
    check(cells.count(".") > len(cells) // 2, "sleeping tasks: the workers are mostly idle")
    check("A Task A (G1)" in out and "B Task B (G2)" in out and ". idle" in out, out)


@case
def case_timeline_parallel():
    out, _ = run_ok("parallel", "--procs", "2", "--tasks", "2", "--work", "5M", "--timeline")
    rows = [m for m in map(TIMELINE_ROW.match, out.splitlines()) if m]
    check([m.group(1) for m in rows] == ["0", "1"], out)
    cells = "".join(m.group(2) for m in rows)
    # "~": the OS ran another thread there (a busy machine) instead of the task.
    check(("1" in cells or "~" in cells) and ("2" in cells or "~" in cells), out)
    check("1 Task 1 (G1)" in out and "2 Task 2 (G2)" in out, out)


@case
def case_timeline_json_goes_to_stderr():
    out, err = run_ok("concurrent", "--procs", "1", "--interval", "5ms", "--timeline",
                      "--format", "json")
    json.loads(out)
    check(any(TIMELINE_ROW.match(l) for l in err.splitlines()), err)


def load_trace(path):
    with open(path) as f:
        doc = json.load(f)
    check(isinstance(doc.get("traceEvents"), list), "no traceEvents")
    return doc["traceEvents"]


@case
def case_trace_concurrent():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "run.json")
        run_ok("concurrent", "--procs", "2", "--interval", "5ms", "--trace", path)
        check(os.listdir(d) == ["run.json"], f"left behind: {os.listdir(d)}")
        events = load_trace(path)
    names = {e["tid"]: e["args"]["name"] for e in events
             if e["ph"] == "M" and e["name"] == "thread_name" and e["pid"] == 1}
    check(names == {0: "P0", 1: "P1"}, names)
    check(any(e["ph"] == "M" and e["name"] == "process_name" for e in events), "no process_name")
    slices = [e for e in events if e["ph"] == "X" and e["pid"] == 1]
    check(slices, "no X slices")
    for e in slices:
        check(e["tid"] in (0, 1) and e["pid"] == 1, e)
        check(e["ts"] >= 0 and e["dur"] >= 0, e)
        check(e["name"] in ("Task A", "Task B"), e)
        check(e["args"]["task"] == e["name"] and e["args"]["coroutine"] in (1, 2), e)
        check(e["args"]["stop"] in ("sleep", "exit", "yield", "block", "preempt", "none"), e)
    for task in ("Task A", "Task B"):
        runs = [e for e in slices if e["name"] == task]
        # Three steps: a run before each of the 2 sleeps between them, and
        # the last, exit (no sleep after the last step).
        check(len(runs) == 3, f"{task}: {len(runs)} slices")
        check([e["args"]["stop"] for e in runs] == ["sleep", "sleep", "exit"], runs)


@case
def case_trace_concurrent_shares_the_zero():
    """Each printed step time lies in a run of its coroutine on its worker in
    the trace: the demo's clock starts at Runtime::trace_epoch()."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "run.json")
        doc, _ = run_json("concurrent", "--procs", "2", "--steps", "4", "--interval", "5ms",
                          "--trace", path)
        events = load_trace(path)
    slices = [e for e in events if e["ph"] == "X" and e["pid"] < 1000]
    for step in doc["events"]:
        check(any(e["args"]["coroutine"] == step["coroutine"] and e["tid"] == step["worker"] and
                  e["ts"] / 1e3 - 0.002 <= step["t_ms"] <= (e["ts"] + e["dur"]) / 1e3 + 0.002
                  for e in slices), f"step at {step['t_ms']} ms is in no run of "
              f"G{step['coroutine']} on P{step['worker']}")


@case
def case_trace_compare_one_process_per_run():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "cmp.json")
        run_ok("compare", "--procs", "1,2", "--runs", "2", "--sleepers", "20", "--sleep", "2ms",
               "--work", "100k", "--trace", path)
        events = load_trace(path)
    processes = {e["pid"]: e["args"]["name"] for e in events
                 if e["ph"] == "M" and e["name"] == "process_name" and e["pid"] < 1000}
    check(sorted(processes.values()) ==
          sorted(["sleep-bound, procs=1", "sleep-bound, procs=2", "cpu-bound, procs=1",
                  "cpu-bound, procs=2", "io-bound, procs=1", "io-bound, procs=2"]), processes)
    for pid, name in processes.items():
        threads = {e["tid"] for e in events
                   if e["pid"] == pid and e["ph"] == "M" and e["name"] == "thread_name"}
        check(threads == set(range(int(name[-1]))), f"{name}: {threads}")


# ---------------------------------------------------------------------------
# GOMAXPROCS


@case
def case_gomaxprocs():
    doc, _ = run_json("concurrent", "--interval", "1ms", "--steps", "1", env={"GOMAXPROCS": "3"})
    check(doc["procs"] == 3, doc["procs"])
    doc, _ = run_json("concurrent", "--interval", "1ms", "--steps", "1", "--procs", "1",
                      env={"GOMAXPROCS": "3"})
    check(doc["procs"] == 1, "--procs must win over GOMAXPROCS")
    doc, _ = run_json("parallel", "--work", "1k", env={"GOMAXPROCS": "3"})
    check(doc["procs"] == 3 and doc["tasks"] == 3, doc)
    doc, _ = run_json("compare", "--runs", "1", "--sleepers", "5", "--sleep", "1ms", "--work",
                      "1k", env={"GOMAXPROCS": "3"})
    check(doc["procs"] == [1, 3], doc["procs"])
    # A bad GOMAXPROCS does not matter when --procs is given.
    run_ok("concurrent", "--interval", "1ms", "--steps", "1", "--procs", "1",
           env={"GOMAXPROCS": "abc"})


# ---------------------------------------------------------------------------
# Bad input: one line on stderr naming the option, exit 2, nothing on stdout

BAD_INPUTS = [
    (["concurrent", "--procs", "0"], {}, r'--procs: expected an integer 1\.\.1024, got "0"'),
    (["concurrent", "--procs", "-1"], {}, r'--procs: expected an integer 1\.\.1024, got "-1"'),
    (["concurrent", "--procs", "abc"], {}, r'--procs: expected an integer 1\.\.1024, got "abc"'),
    (["parallel", "--procs", "100000"], {},
     r'--procs: expected an integer 1\.\.1024, got "100000"'),
    (["concurrent", "--tasks", "0"], {}, r'--tasks: expected an integer 1\.\.\d+, got "0"'),
    (["parallel", "--tasks", "0"], {}, r'--tasks: expected an integer 1\.\.\d+, got "0"'),
    (["concurrent", "--interval", "5parsecs"], {},
     r'--interval: expected a duration like 50ms or 1\.5s .*got "5parsecs"'),
    (["concurrent", "--interval", "-5ms"], {}, r'--interval: expected a duration'),
    (["concurrent", "--interval", "10"], {}, r'--interval: expected a duration'),
    (["parallel", "--work", "lots"], {}, r'--work: expected an integer'),
    (["compare", "--procs", "1,x"], {}, r'--procs: expected a comma-separated list'),
    (["compare", "--runs", "0"], {}, r'--runs: expected an integer 1\.\.100, got "0"'),
    (["parallel", "--timeslice", "5parsecs"], {},
     r'--timeslice: expected a duration like 10ms .* or off, got "5parsecs"'),
    (["parallel", "--timeslice", "-1ms"], {}, r'--timeslice: expected a duration.*got "-1ms"'),
    (["parallel", "--timeslice", "abc"], {}, r'--timeslice: expected a duration.*got "abc"'),
    (["parallel", "--timeslice", "11s"], {}, r'--timeslice: expected .*100 us to 10s'),
    (["parallel", "--timeslice", "99us"], {}, r'--timeslice: expected .*100 us to 10s'),
    (["parallel", "--timeslice", "10"], {}, r'--timeslice: expected a duration'),
    (["compare", "--timeslice", "abc"], {}, r'--timeslice: expected a duration.*got "abc"'),
    (["compare", "--timeslice", "OFF"], {}, r'--timeslice: expected a duration.*got "OFF"'),
    (["concurrent", "--format", "xml"], {}, r'--format: expected table, json or csv, got "xml"'),
    (["concurrent", "--variant", "words"], {}, r'--variant: expected tasks, letters or channel'),
    (["frobnicate"], {}, r'unknown subcommand "frobnicate": expected one of concurrent, '
                         r'parallel, compare'),
    ([], {}, r'a subcommand is required'),
    (["concurrent", "--bogus"], {}, r'unknown option "--bogus"'),
    (["concurrent", "--procs"], {}, r'--procs: expected a value'),
    (["concurrent", "stray"], {}, r'unexpected argument "stray"'),
    (["concurrent", "--trace", "/nonexistent-dir/x/trace.json"], {},
     r'--trace: expected a writable file path, got "/nonexistent-dir/x/trace.json" \(No such'),
    (["concurrent"], {"GOMAXPROCS": "abc"}, r'GOMAXPROCS: expected an integer 1\.\.1024, got "abc"'),
    (["parallel"], {"GOMAXPROCS": "0"}, r'GOMAXPROCS: expected an integer 1\.\.1024, got "0"'),
    (["compare"], {"GOMAXPROCS": "2000"}, r'GOMAXPROCS: expected an integer 1\.\.1024'),
]


@case
def case_bad_inputs():
    for args, env, message in BAD_INPUTS:
        rc, out, err = run(*args, env=env)
        what = f"demo {' '.join(args)} {env or ''}"
        check(rc == 2, f"{what}: exit {rc}, expected 2\n{err}")
        check(out == "", f"{what}: wrote to stdout: {out!r}")
        lines = err.splitlines()
        check(len(lines) == 1, f"{what}: expected one line on stderr, got:\n{err}")
        check(lines[0].startswith("demo: ") and re.search(message, lines[0]),
              f"{what}: {lines[0]!r} does not match {message!r}")


@case
def case_bad_trace_path_fails_before_the_run():
    with tempfile.TemporaryDirectory() as d:
        start = time.monotonic()
        # The run would take at least one 30 s interval; a start-up on a
        # loaded machine under the sanitizers takes seconds.
        rc, out, err = run("concurrent", "--interval", "30s", "--trace", d)  # a directory
        check(rc == 2 and time.monotonic() - start < 15, f"exit {rc} after the run: {err}")
        check(out == "" and re.match(r'demo: --trace: expected a writable file path, got ".*" '
                                     r'\(a directory\)$', err.strip()), err)
        check(os.listdir(d) == [], f"left behind: {os.listdir(d)}")


# ---------------------------------------------------------------------------
# Ctrl-C: exit 130 with what finished


def interrupt_after(args, ready, delay=0.0):
    """Starts demo, waits for `ready` lines on stderr (a number, or a regular
    expression a line must match) and `delay` seconds, sends SIGINT; returns
    the exit code, stdout and stderr."""
    env = dict(os.environ)
    env.pop("GOMAXPROCS", None)
    p = subprocess.Popen([DEMO, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
    seen = []
    deadline = time.monotonic() + 30
    def waiting():
        if isinstance(ready, int):
            return len(seen) < ready
        return not any(re.search(ready, line) for line in seen)

    while waiting() and time.monotonic() < deadline:
        line = p.stderr.readline()
        if not line:
            break
        seen.append(line)
    time.sleep(delay)
    p.send_signal(signal.SIGINT)
    try:
        out, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        raise Failure(f"demo {' '.join(args)} did not stop on SIGINT")
    return p.returncode, out, "".join(seen) + err


@case
def case_sigint_concurrent():
    with tempfile.TemporaryDirectory() as d:
        trace = os.path.join(d, "t.json")
        rc, out, err = interrupt_after(["concurrent", "--steps", "100000", "--interval", "1s",
                                        "--format", "json", "--trace", trace], ready=3)
        check(rc == 130, f"exit {rc}, expected 130\n{err}")
        doc = json.loads(out)
        check(doc["interrupted"] is True, doc)
        check(2 <= len(doc["events"]) < 200000, len(doc["events"]))
        check(doc["summary"].startswith("Interrupted (Ctrl-C) after"), doc["summary"])
        load_trace(trace)  # what ran is in the trace, written whole
        check(os.listdir(d) == ["t.json"], os.listdir(d))


@case
def case_sigint_parallel():
    rc, out, err = interrupt_after(["parallel", "--procs", "2", "--tasks", "3", "--work", "1000G",
                                    "--format", "json"], ready=2)
    check(rc == 130, f"exit {rc}, expected 130\n{err}")
    doc = json.loads(out)
    check(doc["interrupted"] is True and len(doc["results"]) == 3, doc)
    check(all(r["completed"] is False for r in doc["results"]), doc["results"])
    check("stopped after" in err and "(interrupted)" in err, err)


@case
def case_sigint_compare():
    # Interrupted once the first row finished (its line on stderr); the
    # CPU-bound rows (1000G iterations) never do.
    rc, out, err = interrupt_after(["compare", "--procs", "1,2", "--runs", "1", "--sleepers",
                                    "10", "--sleep", "50ms", "--work", "1000G", "--format",
                                    "csv"], ready=r"sleep-bound on coroutines, procs=1: ")
    check(rc == 130, f"exit {rc}, expected 130\n{err}")
    rows = [r for r in csv.DictReader(io.StringIO(out)) if r["record"] == "row"]
    check(len(rows) >= 1 and rows[0]["workload"] == "sleep-bound", out)
    check(all(r["workload"] == "sleep-bound" for r in rows), f"a cut-off CPU-bound run:\n{out}")
    check("Interrupted (Ctrl-C)" in err, err)


# ---------------------------------------------------------------------------
# The demo tells the truth: Ctrl-C at any moment, and every sentence agrees
# with the numbers beside it


def sigint_at(args, delay, group=False):
    """Starts demo, sends SIGINT after `delay` seconds (to the process, or to
    its process group as a terminal does); returns the exit code, stdout and
    stderr."""
    env = dict(os.environ)
    for key in ("GOMAXPROCS", "NO_COLOR", "SPDLOG_LEVEL"):
        env.pop(key, None)
    p = subprocess.Popen([DEMO, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env, start_new_session=group)
    if delay is not None:  # None: not interrupted
        try:
            p.wait(timeout=delay)  # it finished first: nothing to interrupt
        except subprocess.TimeoutExpired:
            try:
                if group:
                    os.killpg(p.pid, signal.SIGINT)
                else:
                    p.send_signal(signal.SIGINT)
            except ProcessLookupError:
                pass
    try:
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        raise Failure(f"demo {' '.join(args)} did not stop on SIGINT after {delay} s")
    return p.returncode, out, err


def sigint_everywhere(args, check_outcome, budget_s=12.0):
    """Interrupts `args` at random moments, from the first milliseconds to
    after its end (one uninterrupted run sets the scale), until `budget_s`
    is spent; check_outcome(rc, out, err, what) judges each run. Killed by
    the signal itself is allowed only before the demo printed anything (the
    handler is not installed yet)."""
    start = time.monotonic()
    rc, out, err = sigint_at(args, None)  # not interrupted: how long a run takes
    full = time.monotonic() - start
    check_outcome(rc, out, err, "uninterrupted")
    rng = random.Random(os.getpid())
    outcomes = {}
    tries = 0
    # Until one run is interrupted (a busy machine's start-up and run times
    # vary: the first tries may all land before the handler or after the
    # end), the tries after the budget aim at the middle of a run.
    while (time.monotonic() - start < budget_s or tries < 8
           or (outcomes.get(130, 0) == 0 and tries < 40)):
        if tries >= 8 and time.monotonic() - start >= budget_s:
            delay = full * rng.uniform(0.3, 0.7)
        elif tries % 4 == 0:
            delay = rng.uniform(0, 0.02)  # the first milliseconds
        elif tries % 4 == 1:
            delay = full * rng.uniform(0.85, 1.1)  # around the end
        else:
            delay = full * rng.uniform(0, 1.1)
        group = tries % 2 == 1
        rc, out, err = sigint_at(args, delay, group)
        what = f"SIGINT{' to the group' if group else ''} after {delay * 1e3:.1f} ms"
        if rc == -signal.SIGINT:
            check(out == "", f"{what}: killed by SIGINT after printing:\n{out}")
        else:
            check(rc in (0, 130), f"{what}: exit {rc}\nstdout:\n{out}\nstderr:\n{err}")
            check_outcome(rc, out, err, what)
        outcomes[rc] = outcomes.get(rc, 0) + 1
        tries += 1
    check(outcomes.get(130, 0) > 0, f"no run was interrupted in {tries} tries: {outcomes}")


def interrupted_everywhere(doc, out, err, what):
    """rc 130: the JSON says interrupted, and so does the summary."""
    check(doc["interrupted"] is True, f"{what}: exit 130 but interrupted is {doc['interrupted']}")
    check(doc.get("summary", "Interrupted").startswith("Interrupted"), f"{what}: {doc}")


@case
def case_sigint_parallel_anytime():
    args = ["parallel", "--procs", "2", "--tasks", "2", "--work", "40M", "--format", "json"]

    def outcome(rc, out, err, what):
        doc = json.loads(out)
        results = doc["results"]
        if rc == 0:
            check(doc["interrupted"] is False, f"{what}: exit 0 but interrupted: {doc}")
            check(len(results) == 2 and all(r["completed"] for r in results),
                  f"{what}: exit 0 with unfinished tasks: {results}")
            check(all(r["iterations"] == 40_000_000 for r in results), results)
            check(isinstance(doc["speedup"], (int, float)), doc)
            check("nterrupt" not in doc["summary"] + err, f"{what}: {doc['summary']}\n{err}")
        else:
            interrupted_everywhere(doc, out, err, what)
            check(not all(r["completed"] for r in results) or len(results) < 2,
                  f"{what}: exit 130 but every task completed: {results}")
            check(doc["speedup"] is None and doc.get("cores_used") is None,
                  f"{what}: a figure from unfinished work: {doc}")
            check("faster" not in doc["summary"] and "parallelism" not in doc["summary"],
                  f"{what}: conclusion from unfinished work: {doc['summary']}")
            for r in results:
                if not r["completed"]:
                    check(r["iterations"] < 40_000_000, r)
    sigint_everywhere(args, outcome)


@case
def case_sigint_concurrent_anytime():
    table = ["concurrent", "--procs", "1", "--steps", "10", "--interval", "10ms"]

    def outcome(rc, out, err, what):
        steps = [m for m in map(STEP_LINE.match, out.splitlines()) if m]
        if rc == 0:
            check(len(steps) == 20 and "All tasks done." in out, f"{what}:\n{out}")
            m = re.search(r"wall time (\d+) ms", out)
            check(m and int(m.group(1)) >= 85, f"{what}: wall time of a whole run:\n{out}")
            check("nterrupt" not in out, f"{what}:\n{out}")
        else:
            check(len(steps) < 20, f"{what}: exit 130 with every step printed:\n{out}")
            check("All tasks done." not in out, f"{what}: 'All tasks done.' on exit 130:\n{out}")
            check("Interrupted (Ctrl-C)" in out, f"{what}:\n{out}")
            check("overlapped" not in out and "wall time" not in out, f"{what}:\n{out}")
    sigint_everywhere(table, outcome, budget_s=8)

    def outcome_json(rc, out, err, what):
        doc = json.loads(out)
        done = sum(t["steps_done"] for t in doc["task_list"])
        if rc == 0:
            check(doc["interrupted"] is False and done == 20, f"{what}: {doc}")
            check(isinstance(doc["overlap"], (int, float)), doc)
        else:
            interrupted_everywhere(doc, out, err, what)
            check(done < 20, f"{what}: exit 130 with every step done")
            check(doc["overlap"] is None, f"{what}: overlap from unfinished work: {doc}")
    sigint_everywhere(table + ["--format", "json"], outcome_json, budget_s=6)


@case
def case_sigint_compare_anytime():
    args = ["compare", "--procs", "1,2", "--runs", "2", "--sleepers", "20", "--sleep", "10ms",
            "--work", "2M"]
    cpu_sum = sum(KNOWN_SUMS_2M) & MASK

    def outcome(rc, out, err, what):
        doc = json.loads(out)
        rows = doc["rows"]
        for r in rows:
            check(r["runs"] == len(r["samples"]) >= 1, f"{what}: {r}")
            if r["workload"] == "sleep-bound":
                # A complete sleep-bound run lasts at least one sleep.
                check(all(smp["wall_ms"] >= 9.5 for smp in r["samples"]),
                      f"{what}: a cut-off run kept as a sample: {r['samples']}")
            elif r["workload"] == "io-bound":
                # A complete io-bound run lasts at least 4 backend waits,
                # one after another, and every request was answered.
                check(all(smp["wall_ms"] >= 4 * 9.5 for smp in r["samples"]),
                      f"{what}: a cut-off run kept as a sample: {r['samples']}")
            else:  # a cut-off CPU-bound run would have another checksum
                check(int(r["checksum"]) == cpu_sum, f"{what}: checksum {r['checksum']}")
            if r["runs"] < 2:
                check(r["speedup"] is None, f"{what}: speedup from an unfinished row: {r}")
        if rc == 0:
            check(doc["interrupted"] is False and len(rows) == 7, f"{what}: {doc}")
            check(len(doc["conclusions"]) == 3, doc["conclusions"])
        else:
            check(doc["interrupted"] is True, f"{what}: exit 130: {doc}")
            check(doc["conclusions"] == [], f"{what}: conclusions from an unfinished "
                  f"comparison: {doc['conclusions']}")
            check("Interrupted (Ctrl-C)" in err, f"{what}:\n{err}")
            check("only procs=1 measured" not in err, err)
    sigint_everywhere(args + ["--format", "json"], outcome, budget_s=10)

    def outcome_table(rc, out, err, what):
        conclusions = re.findall(r"^(?:sleep|cpu|io)-bound: .*$", out, re.M)
        if rc == 0:
            check(len(conclusions) == 3 and "nterrupt" not in out, f"{what}:\n{out}")
        else:
            check(conclusions == [] and "Interrupted (Ctrl-C)" in out, f"{what}:\n{out}")
    sigint_everywhere(args, outcome_table, budget_s=6)


@case
def case_cpu_seeds_are_distinct():
    """WORKLOADS.md: task i starts at x = 2*i + 1, so no two tasks compute
    the same sums (x = seed | 1 gave tasks 2 and 3 the same)."""
    doc, _ = run_json("parallel", "--procs", "2", "--tasks", "4", "--work", "300k")
    sums = {r["index"]: int(r["checksum"]) for r in doc["results"]}
    check(len(set(sums.values())) == 4, f"tasks with the same sum: {sums}")
    for i, v in sums.items():
        check(v == task_sum(i, 300_000), f"task {i}: {v} != {task_sum(i, 300_000)}")
    out, _ = run_ok("bench", "cpu", "--n", "4000000", "--tasks", "4", "--format", "json")
    check(int(json.loads(out)["checksum"]) == 14376744219283705218, out)


@case
def case_parallel_one_worker_reports_no_speedup():
    doc, _ = run_json("parallel", "--procs", "1", "--tasks", "2", "--work", "10M")
    check(doc["speedup"] is None, f"a speedup over 1 worker on 1 worker: {doc['speedup']}")
    check(abs(doc["cores_used"] - doc["task_cpu_ms"] / doc["wall_ms"]) < 0.01, doc)
    out, _ = run_ok("parallel", "--procs", "1", "--tasks", "2", "--work", "10M")
    check("Speedup" not in out and "speedup" not in out, out)
    m = re.search(r"^Cores used: (\d+\.\d\d) \(the tasks' CPU time, (\d+) ms, over the wall "
                  r"time", out, re.M)
    wall = re.search(r"^Wall time (\d+) ms", out, re.M)
    check(m and wall, out)
    check(abs(float(m.group(1)) - int(m.group(2)) / max(int(wall.group(1)), 1)) < 0.05 + 1 /
          max(int(wall.group(1)), 1), out)
    doc, _ = run_json("parallel", "--procs", "2", "--tasks", "2", "--work", "10M")
    check(doc["speedup"] == doc["cores_used"], doc)


@case
def case_parallel_turns_are_measured():
    """The printed turn length is the run's own: busy time / turns, as in the
    trace, not the configured slice."""
    doc, err, events = sliced_run()
    runs = worker_runs(events)
    busy_ms = sum(r[2] - r[1] for r in runs) / 1e3
    check(doc["turns"] == len(runs), f"{doc['turns']} turns, {len(runs)} runs in the trace")
    check(abs(doc["mean_turn_ms"] - busy_ms / len(runs)) < 0.05, f"{doc['mean_turn_ms']} vs "
          f"{busy_ms / len(runs)}")
    out, _ = run_ok(*SLICED, "--wide")
    m = re.search(r"A turn lasted (\d+\.\d) ms on average \(the tasks held the worker (\d+) ms "
                  r"in (\d+) turns\)", out)
    check(m, out)
    check(abs(float(m.group(1)) - int(m.group(2)) / int(m.group(3))) < 0.6, m.group(0))
    stretched = re.search(r"Of those (\d+) ms the tasks got (\d+) ms of CPU: other work", out)
    if stretched:  # said only where the turns held the worker well beyond their CPU time
        check(int(stretched.group(1)) > 1.2 * int(stretched.group(2)), stretched.group(0))
    out, _ = run_ok("parallel", "--help")
    check("10 ms each" not in out, out)


@case
def case_timeslice_zero_is_off():
    doc, _ = run_json("parallel", "--procs", "1", "--work", "1k", "--timeslice", "0")
    check(doc["time_slice_ms"] == 0 and doc["preemptions"] == 0, doc)
    doc, _ = run_json("compare", "--procs", "1", "--runs", "1", "--sleepers", "2", "--sleep",
                      "1ms", "--work", "1k", "--timeslice", "0")
    check(doc["time_slice_ms"] == 0, doc)


@case
def case_interval_is_between_steps():
    start = time.monotonic()
    doc, _ = run_json("concurrent", "--tasks", "1", "--steps", "1", "--interval", "2s")
    elapsed = time.monotonic() - start
    check(elapsed < 1.5, f"1 step took {elapsed:.2f} s: a sleep after the last step")
    check(doc["slept_ms"] == 0, doc)
    doc, _ = run_json("concurrent", "--tasks", "2", "--steps", "3", "--interval", "50ms")
    check(doc["slept_ms"] == 200, f"2 tasks x 2 sleeps between 3 steps: {doc['slept_ms']}")
    check(doc["wall_ms"] >= 95, doc["wall_ms"])


@case
def case_jitter_in_the_header():
    out, _ = run_ok("concurrent", "--interval", "10ms", "--jitter", "50ms", "--steps", "3")
    check(re.search(r"^2 tasks x 3 steps, 10 ms to 60 ms apart", out, re.M), out)
    out, _ = run_ok("concurrent", "--interval", "10ms", "--steps", "2")
    check(re.search(r"^2 tasks x 2 steps, 10 ms apart", out, re.M), out)


def noise_margin(*rows):
    return max([0.10] + [(r["wall_ms_max"] - r["wall_ms_min"]) / r["wall_ms_median"]
                         for r in rows])


def check_verdict(line, base, top, could):
    """The conclusion's word agrees with the rows' numbers and the stated rule
    (`could`: the most tasks the CPUs can run at once)."""
    speed = base["wall_ms_median"] / top["wall_ms_median"]
    margin = noise_margin(base, top)
    slack = 0.01
    if f"more than the {could}x that" in line:
        check(speed > could * (1 + margin) - slack, f"{line!r}: {speed:.3f}, margin {margin:.3f}")
    elif "within noise" in line:
        check(1 / (1 + margin) - slack < speed < 1 + margin + slack,
              f"{line!r}: {speed:.3f} is beyond the margin {margin:.3f}")
    elif "faster" in line:
        check(speed >= 1 + margin - slack, f"{line!r}: {speed:.3f} within the margin {margin:.3f}")
    elif "slower" in line:
        check(speed <= 1 / (1 + margin) + slack, f"{line!r}: {speed:.3f}, margin {margin:.3f}")
    else:
        raise Failure(f"no verdict on {top['procs']} workers: {line!r}")
    check(f"{speed:.2f}x" in line or f"{speed - 0.005:.2f}x" in line or
          f"{speed + 0.005:.2f}x" in line, f"{line!r} does not give the speedup {speed:.3f}")
    check("no faster" not in line or "within noise" in line, line)


@case
def case_compare_conclusions_agree_with_the_numbers():
    doc, _ = run_json("compare", "--procs", "1,2", "--runs", "2", "--sleepers", "100",
                      "--sleep", "20ms", "--work", "3M")
    rows = doc["rows"]
    by = {(r["workload"], r["procs"]): r for r in rows}
    sleep, cpu = doc["conclusions"][0], doc["conclusions"][1]
    check(sleep.startswith("sleep-bound: 1 worker overlaps the waits: 100 x 20 ms of waiting"),
          sleep)
    could = min(2, doc["cpus"])
    check_verdict(sleep, by[("sleep-bound", 1)], by[("sleep-bound", 2)], could)
    check_verdict(cpu, by[("cpu-bound", 1)], by[("cpu-bound", 2)], could)
    # Memory per task only where the tasks are what grew.
    for r in rows:
        if r["workload"] == "sleep-bound":
            check(r["rss_kib_per_task"] >= 0, r)
        else:
            check(r["rss_kib_per_task"] is None, f"KiB/task of a {r['workload']} row: {r}")
    out, _ = run_ok("compare", "--procs", "1,2", "--runs", "1", "--sleepers", "20", "--sleep",
                    "0ms", "--work", "1M", "--wide")
    check("overlaps" not in out, f"--sleep 0: no waits to overlap:\n{out}")
    check(re.search(r"^sleep-bound: --sleep 0: no waits to overlap", out, re.M), out)
    for line in out.splitlines():
        if re.match(r"^cpu-bound +coroutines ", line):
            check(re.search(r" - +(\d+|-)$", line), f"KiB/task of a CPU-bound row: {line}")


@case
def case_very_verbose_logs_scheduler_events():
    _, err_v = run_ok("concurrent", "--procs", "1", "--interval", "1ms", "--steps", "2", "-v")
    _, err_vv = run_ok("concurrent", "--procs", "1", "--interval", "1ms", "--steps", "2", "-vv")
    check("demo: trace:" not in err_v, err_v)
    events = [l for l in err_vv.splitlines() if l.startswith("demo: trace: demo concurrent: ")]
    check(any("G1 (Task A) stops: sleep" in l for l in events), err_vv)
    check(any("G2 (Task B) runs" in l for l in events), err_vv)


@case
def case_color_follows_no_color_org():
    args = ("concurrent", "--interval", "1ms", "--timeline")
    check("\x1b[" in run_on_terminal(*args, env={"NO_COLOR": ""}),
          "NO_COLOR set but empty turned colour off (no-color.org: only a non-empty value)")
    check("\x1b[" not in run_on_terminal(*args, env={"TERM": "dumb"}), "colour with TERM=dumb")


# ---------------------------------------------------------------------------
# Output for scripts (CSV records, exact checksums, one rule for stderr) and
# for terminals (80 columns or the terminal's width, --wide, progress)

README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
SHORT_RUNS = {
    "concurrent": ("concurrent", "--procs", "2", "--tasks", "2", "--steps", "2", "--interval",
                   "2ms"),
    "parallel": ("parallel", "--procs", "2", "--tasks", "2", "--work", "200k"),
    "compare": ("compare", "--procs", "1,2", "--runs", "1", "--sleepers", "20", "--sleep", "2ms",
                "--work", "200k"),
    "server": ("server", "--procs", "1", "--clients", "2", "--requests", "1", "--backend", "2ms"),
}


def records(rows, kind):
    return [r for r in rows if r["record"] == kind]


def unwrapped(text):
    """Human text with its wrapped lines joined again (a continuation line is
    indented): for searching sentences."""
    return re.sub(r" *\n +", " ", text)


@case
def case_csv_concurrent_has_the_summary():
    rows, out, _ = run_csv(*SHORT_RUNS["concurrent"])
    check({r["record"] for r in rows} == {"event", "task", "summary"}, out)
    check(len(records(rows, "event")) == 4 and len(records(rows, "task")) == 2, out)
    [summary] = records(rows, "summary")
    # 2 tasks x 1 sleep between their 2 steps x 2 ms.
    check(float(summary["wall_ms"]) > 0 and float(summary["slept_ms"]) == 4, summary)
    check(float(summary["overlap"]) > 0 and summary["interrupted"] == "false", summary)
    check(summary["procs"] == "2" and summary["tasks"] == "2", summary)
    check("overlapped" in summary["summary"] or "too short" in summary["summary"], summary)
    tasks = records(rows, "task")
    check(all(t["steps_done"] == "2" and float(t["slept_ms"]) == 2 for t in tasks), tasks)
    check(all(r["t_ms"] == "" for r in tasks + [summary]), "event columns filled elsewhere")


@case
def case_csv_parallel_has_wall_time_and_speedup():
    rows, out, _ = run_csv(*SHORT_RUNS["parallel"])
    tasks = records(rows, "task")
    [summary] = records(rows, "summary")
    check(len(tasks) == 2 and len(rows) == 3, out)
    for key in ("wall_ms", "cpu_ms", "user_ms", "sys_ms", "task_cpu_ms", "speedup"):
        check(float(summary[key]) >= 0, f"{key}: {summary[key]!r}")
    check(summary["speedup_method"].startswith("estimate"), summary)
    total = (task_sum(0, 200_000) + task_sum(1, 200_000)) & MASK
    check(int(summary["checksum"]) == total, summary)
    check(sum(int(t["checksum"]) for t in tasks) & MASK == total, tasks)
    check(summary["interrupted"] == "false" and summary["summary"], summary)


@case
def case_csv_compare_has_conclusions_and_summary():
    rows, out, _ = run_csv(*SHORT_RUNS["compare"])
    check([r["record"] for r in rows] == ["row"] * 7 + ["conclusion"] * 3 + ["summary"], out)
    conclusions = [r["conclusion"] for r in records(rows, "conclusion")]
    check(conclusions[0].startswith("sleep-bound:") and conclusions[1].startswith("cpu-bound:"),
          conclusions)
    [summary] = records(rows, "summary")
    check(summary["procs"] == "1 2" and summary["interrupted"] == "false", summary)
    check(int(summary["peak_rss_kib"]) > 0, summary)


@case
def case_json_checksums_are_exact_for_every_reader():
    """JavaScript and jq 1.6 read JSON numbers as doubles: a 64-bit checksum
    must come as a string to reach them whole."""
    as_double = functools.partial(json.loads, parse_int=float)
    out, _ = run_ok("parallel", "--procs", "2", "--tasks", "2", "--work", "200M", "--format",
                    "json")
    doc = as_double(out)
    check(doc["checksum"] == str(KNOWN_CHECKSUM_2X200M), f"checksum {doc['checksum']!r}")
    for r in doc["results"]:
        check(isinstance(r["checksum"], str) and r["checksum"].isdigit(), r)
    out, _ = run_ok(*SHORT_RUNS["compare"], "--format", "json")
    cpu = [r for r in as_double(out)["rows"] if r["workload"] == "cpu-bound"]
    check(all(r["checksum"] == str((task_sum(0, 200_000) + task_sum(1, 200_000)) & MASK)
              for r in cpu), cpu)
    # demo bench keeps the peers' line: a number there (compare.py reads it).
    out, _ = run_ok("bench", "cpu", "--procs", "1", "--n", "1000", "--format", "json")
    check(isinstance(json.loads(out)["checksum"], int), out)


@case
def case_summary_on_stderr_in_json_and_csv():
    sentences = {"concurrent": "slept", "parallel": "Wall time", "compare": "sleep-bound:",
                 "server": "Latency:"}
    for command, args in SHORT_RUNS.items():
        for fmt in ("json", "csv"):
            _, err = run_ok(*args, "--format", fmt)
            check(sentences[command] in err,
                  f"{command} --format {fmt}: no summary on stderr:\n{err}")
            _, err = run_ok(*args, "--format", fmt, "-q")
            check(err == "", f"{command} --format {fmt} -q: {err}")


def readme_section(title):
    with open(README) as f:
        text = f.read()
    start = text.index(f"### {title}\n")
    end = text.find("\n#", start + 1)
    return text[start:end]


def parse_fields(text):
    """`{a, b[], c[{d, e}]}` -> {"a": None, "b": [], "c": [{"d": None, "e": None}]}."""
    tokens = re.findall(r"[A-Za-z_]\w*|[{}\[\],]", text)
    pos = 0

    def obj():
        nonlocal pos
        check(tokens[pos] == "{", f"expected {{ at {tokens[pos:]}")
        pos += 1
        fields = {}
        while tokens[pos] != "}":
            name = tokens[pos]
            pos += 1
            fields[name] = None
            if tokens[pos] == "[":
                pos += 1
                fields[name] = [obj()] if tokens[pos] == "{" else []
                check(tokens[pos] == "]", f"expected ] at {tokens[pos:]}")
                pos += 1
            if tokens[pos] == ",":
                pos += 1
        pos += 1
        return fields

    return obj()


def same_fields(documented, real, where):
    check(list(documented) == list(real),
          f"{where}: README lists {list(documented)}, the output has {list(real)}")
    for name, sub in documented.items():
        if sub:  # an array of objects: compare the first element
            check(isinstance(real[name], list) and real[name], f"{where}.{name}: {real[name]}")
            same_fields(sub[0], real[name][0], f"{where}.{name}[]")


@case
def case_readme_machine_readable_output_is_the_real_one():
    section = readme_section("Machine-readable output")
    jsons = dict(re.findall(r"- `(\w+)` JSON: `(\{[^`]*\})`", section))
    headers = dict(re.findall(r"^(\w+) CSV: (record,\S+)$", section, re.M))
    check(sorted(jsons) == sorted(SHORT_RUNS) and sorted(headers) == sorted(SHORT_RUNS),
          f"README documents JSON of {sorted(jsons)} and CSV of {sorted(headers)}")
    for command, args in SHORT_RUNS.items():
        doc, _ = run_json(*args)
        same_fields(parse_fields(jsons[command]), doc, command)
        _, out, _ = run_csv(*args)
        check(out.splitlines()[0] == headers[command],
              f"{command}: README's CSV columns\n{headers[command]}\nthe real ones\n"
              f"{out.splitlines()[0]}")


def too_wide(text, width):
    return [l for l in ANSI.sub("", text).splitlines() if len(l) > width]


@case
def case_default_output_fits_80_columns():
    env = {"COLUMNS": "200"}  # read only on a terminal: stdout is a pipe here
    for command, args in SHORT_RUNS.items():
        for extra in ((), ("--timeline",)):
            out, _ = run_ok(*args, *extra, env=env)
            check(not too_wide(out, 80), f"demo {command} {' '.join(extra)}: lines over 80 "
                  f"columns:\n" + "\n".join(too_wide(out, 80)))
            _, err = run_ok(*args, *extra, "--format", "csv", env=env)
            check(not too_wide(err, 80), f"{command} --format csv: stderr over 80 columns:\n"
                  + "\n".join(too_wide(err, 80)))
    for workload in ("cpu", "yield"):
        out, _ = run_ok("bench", workload, "--procs", "1", "--n", "1000", env=env)
        check(not too_wide(out, 80), f"demo bench {workload}:\n{out}")


COMPARE_COLUMNS = ["workload", "runner", "procs", "tasks", "wall ms", "min-max ms", "CPU ms",
                   "speedup", "efficiency", "req/s", "start-up ms", "KiB/task", "preemptions"]


def table_header(out):
    return next(l for l in out.splitlines() if l.startswith("workload "))


@case
def case_wide_shows_every_column():
    out, _ = run_ok(*SHORT_RUNS["compare"], "--wide")
    check(re.fullmatch(" +".join(re.escape(c) for c in COMPARE_COLUMNS), table_header(out)), out)
    check("--wide shows" not in out, out)
    out, _ = run_ok("bench", "cpu", "--procs", "1", "--n", "1000", "--wide")
    check(re.match(r"workload +procs +n +wall ms +ns/op +op +result\n", out), out)
    check(re.search(r"^cpu +1 +1000 +[\d.]+ +[\d.]+ +one iteration +checksum \d+$", out, re.M),
          out)
    out, _ = run_ok(*SHORT_RUNS["compare"])
    header = table_header(out)
    for column in ("workload", "procs", "wall ms", "speedup"):
        check(column in header, f"{column} hidden at 80 columns:\n{out}")
    hidden = [c for c in COMPARE_COLUMNS if c not in re.split(r" {2,}", header.strip())]
    check(hidden, f"nothing hidden at 80 columns:\n{out}")
    note = re.search(r"\(to fit 80 columns, not shown: (.*); --wide shows them\)", unwrapped(out))
    check(note and note.group(1).split(", ") == hidden, f"no note naming {hidden}:\n{out}")


@case
def case_width_follows_the_terminal():
    out = run_on_terminal(*SHORT_RUNS["compare"], "--no-color", env={"COLUMNS": "60"})
    check(not too_wide(out, 60), "COLUMNS=60 on a terminal:\n" + "\n".join(too_wide(out, 60)))
    bars = re.findall(r"procs=[12] +([#█▏▎▍▌▋▊▉]+) +\d+\.\d\dx", out)
    check(len(bars) == 6, f"no bar chart at 60 columns:\n{out}")
    out = run_on_terminal(*SHORT_RUNS["compare"], "--no-color", env={"COLUMNS": "200"})
    check(re.fullmatch(" +".join(re.escape(c) for c in COMPARE_COLUMNS),
                       table_header(out).strip()), f"200 columns: not every column:\n{out}")


def read_terminal(master):
    """Reads a pseudo-terminal's master side until the child closes it;
    closes it and returns what was read."""
    data = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        data += chunk
    os.close(master)
    return data


def run_with_stderr_on_terminal(*args, env=None):
    """Runs demo with stderr on a pseudo-terminal (80 columns) and stdout on a
    pipe; returns the exit code, stdout and what reached the terminal."""
    full_env = dict(os.environ)
    for name in ("GOMAXPROCS", "NO_COLOR", "SPDLOG_LEVEL", "COLUMNS"):
        full_env.pop(name, None)
    full_env.update(env or {})
    master, slave = pty.openpty()
    p = subprocess.Popen([DEMO, *args], stdout=subprocess.PIPE, stderr=slave, env=full_env)
    os.close(slave)
    out = []
    reader = threading.Thread(target=lambda: out.append(p.stdout.read()))
    reader.start()
    data = read_terminal(master)
    p.wait(timeout=TIMEOUT)
    reader.join(timeout=TIMEOUT)
    return p.returncode, out[0].decode(), data.decode()


# 6 runs of 10 sleepers sleeping 0.45 s: a compare run of about 3 s (and
# 12 short io-bound runs).
LONG_COMPARE = ("compare", "--procs", "1", "--runs", "6", "--sleepers", "10", "--sleep",
                "450ms", "--work", "1k", "--no-color")
PROGRESS_LINE = re.compile(r"\r(sleep-bound|cpu-bound|io-bound), (?:procs=1|threads), run \d/6 "
                           r"\| (\d+)/24 runs \| "
                           r"\d+\.\d s elapsed( \| ~[\d.]+ s left)?\x1b\[K")


@case
def case_progress_on_a_terminal():
    rc, out, err = run_with_stderr_on_terminal(*LONG_COMPARE)
    check(rc == 0, f"exit {rc}\n{err}")
    frames = PROGRESS_LINE.findall(err)
    check(frames, f"no progress line on the terminal after ~3 s:\n{err!r}")
    check(any(left for *_, left in frames), f"no time left shown: {frames}")
    done = [int(d) for _, d, _ in frames]
    check(done == sorted(done) and done[-1] < 24, f"runs done: {done}")
    last = err.rindex("\x1b[K")
    check(err[last - 3:last] == "\r\x1b" or err.endswith("\r\x1b[K"),
          f"the line is not erased at the end: {err[-200:]!r}")
    check(not too_wide(PROGRESS_LINE.sub("", err), 80), "progress wider than the terminal")
    # stdout (a pipe) has the table and nothing of the progress line.
    check("\r" not in out and "\x1b" not in out, f"progress on stdout: {out!r}")
    check(re.search(r"^sleep-bound +coroutines +1 +10 ", out, re.M), out)
    # Each progress frame is erased before other text reaches the terminal.
    for m in PROGRESS_LINE.finditer(err):
        rest = err[m.end():]
        check(rest == "" or rest.startswith("\r"), f"text written after a frame: {rest[:80]!r}")


@case
def case_no_progress_off_a_terminal():
    rc, out, err = run(*LONG_COMPARE)
    check(rc == 0, f"exit {rc}\n{err}")
    check("\r" not in out + err and "\x1b" not in out + err, f"progress on a pipe: {err!r}")
    # Short runs never show one, even on a terminal.
    rc, _, err = run_with_stderr_on_terminal(*SHORT_RUNS["compare"])
    check(rc == 0 and "\r" not in err.replace("\r\n", "\n"), f"a short run's progress: {err!r}")


# ---------------------------------------------------------------------------
# demo CLI robustness: bench workloads for any n, --trace respects what is at
# its path, output that did not arrive, help for mistakes, help that fits 80
# columns


@case
def case_bench_skynet_any_n():
    # Not powers of 10: the tree still covers 0..n-1 once. (The wrong sums
    # first: an old tree ran away for 2, 5, 7 and 20.)
    for n in (11, 101, 1001, 2, 5, 7, 20, 1):
        rc, out, err = run("bench", "skynet", "--n", str(n), "--procs", "2", "--format", "json",
                           timeout=30)
        check(rc == 0, f"skynet --n {n}: exit {rc}\n{err}")
        line = json.loads(out)
        check(line["n"] == n and line["checksum"] == n * (n - 1) // 2,
              f"skynet --n {n}: checksum {line['checksum']}, expected {n * (n - 1) // 2}")


@case
def case_bench_cpu_runs_exactly_n():
    # n = 10 over 4 tasks: 3, 3, 2, 2 iterations; n = 3 over 8 tasks: 1, 1,
    # 1 and five tasks with none (not 0 iterations in all).
    for n, tasks, iters in ((10, 4, (3, 3, 2, 2)), (3, 8, (1, 1, 1, 0, 0, 0, 0, 0))):
        out, _ = run_ok("bench", "cpu", "--n", str(n), "--tasks", str(tasks), "--procs", "2",
                        "--format", "json")
        line = json.loads(out)
        expected = sum(task_sum(i, k) for i, k in enumerate(iters)) & MASK
        check(line["n"] == n and line["checksum"] == expected,
              f"cpu --n {n} --tasks {tasks}: checksum {line['checksum']}, expected {expected}")


def trace_run(d, path, **kw):
    """demo concurrent (tiny) with --trace PATH, in directory d."""
    p = subprocess.run([DEMO, "concurrent", "--interval", "1ms", "--steps", "1", "--procs", "1",
                        "--format", "json", "-q", "--trace", path], cwd=d, text=True,
                       capture_output="stdout" not in kw, timeout=TIMEOUT, **kw)
    return p.returncode, p.stdout, p.stderr


def write_file(path, text, mode):
    """Writes `text` to a new file at `path` with permissions `mode`."""
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def is_trace(path):
    with open(path) as f:
        return "traceEvents" in json.load(f)


@case
def case_trace_writes_through_symlinks():
    with tempfile.TemporaryDirectory() as d:
        real = os.path.join(d, "real.json")
        write_file(real, "old", 0o640)
        os.symlink("real.json", os.path.join(d, "link.json"))
        rc, _, err = trace_run(d, "link.json")
        check(rc == 0, f"exit {rc}: {err}")
        check(os.path.islink(os.path.join(d, "link.json")), "the symlink was replaced")
        check(is_trace(real), "the link's target was not written")
        check(os.stat(real).st_mode & 0o777 == 0o640, "the target lost its mode")
        # A dangling link: its target is created (in the target's directory).
        os.mkdir(os.path.join(d, "sub"))
        os.symlink("sub/new.json", os.path.join(d, "dangling.json"))
        rc, _, err = trace_run(d, "dangling.json")
        check(rc == 0 and os.path.islink(os.path.join(d, "dangling.json")), f"exit {rc}: {err}")
        check(is_trace(os.path.join(d, "sub", "new.json")), "the dangling link's target")
        check(sorted(os.listdir(d)) == ["dangling.json", "link.json", "real.json", "sub"] and
              os.listdir(os.path.join(d, "sub")) == ["new.json"], "temporary files left")
        # A link to this process's stdout (as /dev/stdout is): the trace goes
        # to the descriptor, after the report, and the link stays.
        os.symlink("/proc/self/fd/1", os.path.join(d, "out"))
        with open(os.path.join(d, "stdout.txt"), "w") as stdout:
            rc, _, err = trace_run(d, "out", stdout=stdout, stderr=subprocess.PIPE)
        check(rc == 0 and os.path.islink(os.path.join(d, "out")), f"exit {rc}: {err}")
        with open(os.path.join(d, "stdout.txt")) as f:
            text = f.read()
        check('"command": "concurrent"' in text and "traceEvents" in text,
              f"report and trace not both on stdout:\n{text[:300]}")


@case
def case_trace_writes_devices_and_fifos_in_place():
    with tempfile.TemporaryDirectory() as d:
        os.symlink("/dev/null", os.path.join(d, "devnull"))
        rc, _, err = trace_run(d, "devnull")
        check(rc == 0 and os.path.islink(os.path.join(d, "devnull")), f"exit {rc}: {err}")
        check(os.path.exists("/dev/null") and not os.path.isfile("/dev/null"), "/dev/null")
        fifo = os.path.join(d, "fifo")
        os.mkfifo(fifo)
        chunks = []
        reader = subprocess.Popen(["cat", fifo], stdout=subprocess.PIPE)
        rc, _, err = trace_run(d, "fifo")
        chunks.append(reader.communicate(timeout=TIMEOUT)[0])
        check(rc == 0, f"exit {rc}: {err}")
        check(b"traceEvents" in chunks[0] and os.path.exists(fifo) and
              not os.path.isfile(fifo), "the FIFO was not written in place")
        check(sorted(os.listdir(d)) == ["devnull", "fifo"], os.listdir(d))


def refused(rc, out, err, why):
    return rc == 2 and out == "" and re.fullmatch(
        r'demo: --trace: expected a writable file path, got ".*" \(' + why + r'\)\n', err)


@case
def case_trace_refuses_what_it_must_not_replace():
    with tempfile.TemporaryDirectory() as d:
        ro = os.path.join(d, "ro.json")
        write_file(ro, "keep", 0o444)
        rc, out, err = trace_run(d, "ro.json")
        check(refused(rc, out, err, "the file is read-only"), f"read-only: exit {rc}: {err}")
        os.symlink("ro.json", os.path.join(d, "ro-link"))
        rc, out, err = trace_run(d, "ro-link")
        check(refused(rc, out, err, "the file is read-only"), f"link to read-only: {err}")
        with open(ro) as f:
            check(f.read() == "keep", "the read-only file was replaced")
        rc, out, err = trace_run(d, ".")
        check(refused(rc, out, err, "a directory"), f"directory: exit {rc}: {err}")
        rc, out, err = trace_run(d, "missing/t.json")
        check(refused(rc, out, err, "No such file or directory"), f"no parent: {err}")
        check(sorted(os.listdir(d)) == ["ro-link", "ro.json"], os.listdir(d))
        if os.geteuid() == 0:
            # Someone else's file (0644, root's): a user that may not write
            # it may not replace it either, though the directory is theirs.
            os.chmod(d, 0o777)
            theirs = os.path.join(d, "root.json")
            write_file(theirs, "keep", 0o644)
            rc, out, err = trace_run(d, "root.json", preexec_fn=as_nobody)
            check(refused(rc, out, err, "the file is read-only"), f"as nobody: exit {rc}: {err}")
            with open(theirs) as f:
                check(f.read() == "keep", "another user's file was replaced")


def as_nobody():
    """preexec_fn: run as the unprivileged user nobody (when root)."""
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)


# Cheap runs of every subcommand (and of the help), each writing to stdout.
STDOUT_RUNS = [
    ["concurrent", "--interval", "1ms", "--steps", "1", "--procs", "1"],
    ["concurrent", "--interval", "1ms", "--steps", "1", "--procs", "1", "--format", "json"],
    ["parallel", "--work", "1k", "--procs", "1"],
    ["compare", "--runs", "1", "--sleepers", "2", "--sleep", "1ms", "--work", "1k", "--procs",
     "1", "--format", "csv"],
    ["bench", "yield", "--n", "100", "--procs", "1"],
    ["--help"], ["--version"], ["help", "bench"],
]


def run_to(args, stdout, preexec_fn=None):
    p = subprocess.run([DEMO, *args], stdout=stdout, stderr=subprocess.PIPE, text=True,
                       timeout=TIMEOUT, preexec_fn=preexec_fn)
    return p.returncode, p.stderr


@case
def case_stdout_full_or_closed():
    for args in STDOUT_RUNS:
        what = f"demo {' '.join(args)}"
        with open("/dev/full", "w") as full:
            rc, err = run_to(args, full)
        check(rc == 1 and err.splitlines()[-1:] ==
              ["demo: error writing standard output: No space left on device"],
              f"{what} > /dev/full: exit {rc}\n{err}")
        rc, err = run_to(args, None, preexec_fn=lambda: os.close(1))
        check(rc == 1 and err.splitlines()[-1:] ==
              ["demo: error writing standard output: Bad file descriptor"],
              f"{what} >&-: exit {rc}\n{err}")


@case
def case_stdout_closed_pipe_is_quiet():
    for args in STDOUT_RUNS:
        what = f"demo {' '.join(args)}"
        if "--format" in args:
            continue  # json and csv put their progress on stderr
        for ignore in (False, True):
            r, w = os.pipe()
            os.close(r)  # the reader is gone before the first write

            def pre(ignore=ignore):
                signal.signal(signal.SIGPIPE, signal.SIG_IGN if ignore else signal.SIG_DFL)

            try:
                rc, err = run_to(args, w, preexec_fn=pre)
            finally:
                os.close(w)
            expected = 141 if ignore else -signal.SIGPIPE
            check(rc == expected and err == "",
                  f"{what} | (closed), SIGPIPE {'ignored' if ignore else 'default'}: "
                  f"exit {rc}, expected {expected}\n{err}")


MISTAKES = [
    (["concurrent", "--proc", "2"],
     r'unknown option "--proc": did you mean --procs\? \(see demo concurrent --help\)'),
    (["concurrent", "--formt=json"], r'unknown option "--formt": did you mean --format\?'),
    (["--procs", "1", "concurrent"],
     r'--procs is an option of demo concurrent: it goes after the subcommand '
     r'\(demo concurrent --procs 1\)'),
    (["--format", "json", "concurrent"], r'--format is an option of demo concurrent: it goes '
                                         r'after the subcommand \(demo concurrent --format json'),
    (["--procs", "1"], r'--procs is an option of the subcommands: it goes after the subcommand'),
    (["--vers"], r'unknown option "--vers": did you mean --version\? \(see demo --help\)'),
    (["concurrent", "--frob", "3"], r'unknown option "--frob" \(see demo concurrent --help\)$'),
    (["--frob"], r'unknown option "--frob" \(see demo --help\)$'),
    (["bench"], r'bench: expected a workload: yield, pingpong, spawn, skynet, sleepers, park, '
                r'cpu, echo or all'),
    (["bench", "yield", "cpu"], r'unexpected argument "cpu"'),
    (["help", "frobnicate"], r'help: unknown subcommand "frobnicate": expected one of '
                             r'concurrent, parallel, compare, server, bench'),
    (["concurrent", "--procs", "1", "--procs", "x"],
     r'--procs: expected an integer 1\.\.1024, got "x"'),
]


@case
def case_cli_mistakes_get_help():
    for args, message in MISTAKES:
        rc, out, err = run(*args)
        what = f"demo {' '.join(args)}"
        check(rc == 2 and out == "", f"{what}: exit {rc}, stdout {out!r}")
        check(re.fullmatch(r"demo: .*\n", err) and re.search(message, err),
              f"{what}: {err!r} does not match {message!r}")
    # A repeated option: the last one wins.
    doc, _ = run_json("concurrent", "--interval", "1ms", "--steps", "1", "--procs", "1",
                      "--procs", "2", "--format", "table")
    check(doc["procs"] == 2, f"--procs 1 --procs 2: procs {doc['procs']}")
    # demo help [SUBCOMMAND] is --help.
    check(run_ok("help")[0] == run_ok("--help")[0], "demo help is not demo --help")
    for sub in ("concurrent", "parallel", "compare", "bench"):
        check(run_ok("help", sub)[0] == run_ok(sub, "--help")[0], f"demo help {sub}")


@case
def case_help_fits_80_columns():
    outputs = {"demo --help": run_ok("--help")[0], "demo help": run_ok("help")[0]}
    for sub in ("concurrent", "parallel", "compare", "bench", "help"):
        outputs[f"demo {sub} --help"] = run_ok(sub, "--help")[0]
    for what, out in outputs.items():
        wide = [line for line in out.splitlines() if len(line) > 80]
        check(not wide, f"{what}: {len(wide)} lines wider than 80 columns:\n" + "\n".join(wide))


@case
def case_thread_limit_says_what_failed():
    if os.environ.get("CORUN_E2E_SANITIZER"):
        return  # the sanitizers' own threads need the limit too
    import resource

    def pre():
        as_nobody()
        resource.setrlimit(resource.RLIMIT_NPROC, (1, 1))  # ulimit -u 1

    p = subprocess.run([DEMO, "concurrent", "--interval", "1ms", "--steps", "1", "--procs", "2"],
                       capture_output=True, text=True, timeout=TIMEOUT, preexec_fn=pre, cwd="/")
    check(p.returncode == 1 and re.fullmatch(
        r"demo: concurrent failed: cannot start worker thread 1 of 2: Resource temporarily "
        r"unavailable \(the system refused a thread: see ulimit -u and ulimit -v\)\n", p.stderr), f"exit {p.returncode}: {p.stderr!r}")


# ---------------------------------------------------------------------------
# Resource limits: threads the system refuses (ulimit -u, ulimit -v)


def run_with_thread_stacks(size, *args):
    """Runs demo with RLIMIT_STACK at `size`, which glibc makes the stack size
    of every thread the program creates; None where the hard limit is lower."""
    soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
    if hard != resource.RLIM_INFINITY and hard < size:
        return None
    env = dict(os.environ)
    env.pop("GOMAXPROCS", None)
    p = subprocess.run([DEMO, *args], capture_output=True, text=True, env=env, timeout=TIMEOUT,
                       preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_STACK, (size, hard)))
    return p.returncode, p.stdout, p.stderr


@case
def case_thread_refused_is_one_line():
    # Thread stacks larger than the address space: no thread can start, as
    # when `ulimit -u` is reached. One line naming the thread, exit 1.
    if os.environ.get("CORUN_E2E_SANITIZER") == "thread":
        # ThreadSanitizer itself cannot start under such a stack limit (the
        # kernel then lays out memory where its shadow must go).
        print("skipped: ThreadSanitizer does not start with RLIMIT_STACK this large")
        return
    for args in (("concurrent", "--procs", "4", "--interval", "1ms"),
                 ("bench", "yield", "--procs", "2", "--n", "1000")):
        result = run_with_thread_stacks(1 << 48, *args)
        if result is None:
            print("skipped: the hard RLIMIT_STACK is too low to test this")
            return
        rc, _, err = result
        procs = args[args.index("--procs") + 1]
        want = (f"demo: {args[0]} failed: cannot start worker thread 1 of {procs}: Resource "
                "temporarily unavailable (the system refused a thread: see ulimit -u and "
                "ulimit -v)\n")
        check(rc == 1 and err == want,
              f"demo {' '.join(args)} without threads: exit {rc}\nstderr:\n{err}")


# ---------------------------------------------------------------------------
# Pictures: the timeline's task and state rows, the trace's coroutine tracks
# and flows, each checked against the trace of the same run

TASK_ROW = re.compile(r"^ +(\S.*?) \|([^|]*)\| +\d+%$")
STATE_ROW = re.compile(r"^ +(running|runnable|sleeping|blocked) \|([^|]*)\| +(\S+)$")
WAIT_CELLS = {"sleeping": "z", "chan": "c", "select": "s", "WaitGroup": "w", "Mutex": "m"}


def traced(*args):
    """Runs demo ARGS --trace FILE; returns (stdout, trace events)."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "t.json")
        out, _ = run_ok(*args, "--trace", path)
        return out, load_trace(path)


def coroutine_tracks(events, run=1):
    """Run `run`'s coroutine tracks: {name: [slice, ...] in time order}, with
    the trace's end (ns) and its workers' slices."""
    names = {e["tid"]: e["args"]["name"] for e in events if e["pid"] == 1000 + run and
             e["ph"] == "M" and e["name"] == "thread_name"}
    tracks = {}
    for e in events:
        if e["ph"] == "X" and e["pid"] == 1000 + run:
            tracks.setdefault(names[e["tid"]], []).append(e)
    for slices in tracks.values():
        slices.sort(key=lambda e: e["ts"])
    ends = [e["args"]["end_ns"] for e in events if e["ph"] == "i" and e["pid"] == run and
            e["name"].startswith("end of the run")]
    check(len(ends) == 1, f"run {run}: {len(ends)} end-of-run events")
    return tracks, ends[0]


def column_starts(end_ns, count):
    """Column c is [starts[c], starts[c + 1]) (timeline.cpp's Columns)."""
    per = end_ns / count
    return [math.floor(c * per + 0.5) for c in range(count)] + [None]


def span_columns(start_ns, end_ns, starts):
    """The columns a span [start_ns, end_ns) touches; one of no length, the
    column of its start."""
    count = len(starts) - 1

    def of(ns):
        c = max(i for i in range(count) if starts[i] <= ns) if ns >= 0 else 0
        return c

    last = of(end_ns - 1) if end_ns > start_ns else of(start_ns)
    return range(of(start_ns), last + 1)


def expected_cells(slices, starts):
    """Per column, what the trace says the timeline may show: (ran-on
    workers, runnable, wait symbols, anything)."""
    count = len(starts) - 1
    cols = [{"ran": set(), "runnable": False, "waits": set(), "any": False}
            for _ in range(count)]
    for e in slices:
        start = round(e["ts"] * 1000)
        end = round((e["ts"] + e["dur"]) * 1000)
        state = e["args"]["state"]
        for c in span_columns(start, end, starts):
            cols[c]["any"] = True
            if state == "running":
                cols[c]["ran"].add(str(e["args"]["worker"]))
            elif state == "runnable":
                cols[c]["runnable"] = True
            elif state == "sleeping":
                cols[c]["waits"].add("z")
            else:
                wait = e["args"]["wait"]
                cols[c]["waits"].add(next((v for k, v in WAIT_CELLS.items()
                                           if wait.startswith(k)), "b"))
    return cols


def check_task_rows(out, events, run=1):
    """Every task row of the timeline against the coroutine's track in the
    trace of the same run: a task that ran in a column shows as running there
    (on a worker it ran on), and nothing else does; else runnable where it
    waited for a worker; else one of its waits; blank only where it did not
    exist. Returns {task: cells}."""
    tracks, end_ns = coroutine_tracks(events, run)
    rows = {}
    for line in out.splitlines():
        m = TASK_ROW.match(line)
        if m and not re.fullmatch(r"P\d+", m.group(1)):
            rows[m.group(1)] = m.group(2)
    by_label = {name.rsplit(" (G", 1)[0]: slices for name, slices in tracks.items()}
    check(set(rows) == set(by_label), f"task rows {sorted(rows)} != coroutines "
          f"{sorted(by_label)}:\n{out}")
    for task, cells in rows.items():
        starts = column_starts(end_ns, len(cells))
        for c, (cell, want) in enumerate(zip(cells, expected_cells(by_label[task], starts))):
            where = f"{task}, column {c} ({cell!r}, trace: {want}):\n{out}"
            if want["ran"]:
                check(cell in want["ran"], "ran but not drawn running: " + where)
            elif want["runnable"]:
                check(cell == "-", "runnable but not drawn so: " + where)
            elif want["waits"]:
                check(cell in want["waits"], "waiting but not drawn so: " + where)
            else:
                check(cell == " ", "drawn where the task did not exist: " + where)
    return rows


def runs_of(cells):
    """The stretches of running cells in a task row."""
    return re.findall(r"[0-9#]+", cells)


@case
def case_timeline_task_rows_show_every_run_and_sleep():
    """Issue #15's report: on one worker, 3 tasks x 2 steps all run in each
    period and sleep in between; one letter per column used to hide two of
    them."""
    out, events = traced("concurrent", "--procs", "1", "--tasks", "3", "--steps", "2",
                         "--timeline")
    rows = check_task_rows(out, events)
    check(sorted(rows) == ["Task A", "Task B", "Task C"], out)
    for task, cells in rows.items():
        check(len(runs_of(cells)) == 2, f"{task}: not 2 runs drawn: {cells!r}\n{out}")
        between = cells[cells.index("0"):cells.rindex("0")]
        check("z" in between, f"{task}: its sleep is not drawn: {cells!r}")
    check("z sleeping" in out and "0 running on P0" in out, out)
    check("ran there at all" in out, f"the legend does not state the rule:\n{out}")


@case
def case_timeline_task_rows_take_turns():
    """CPU-bound tasks on one worker alternate between running and runnable."""
    out, events = traced("parallel", "--procs", "1", "--tasks", "2", "--work", "30M",
                         "--timeline")
    rows = check_task_rows(out, events)
    for task, cells in rows.items():
        check(len(runs_of(cells)) >= 2 and "-" in cells.strip(),
              f"{task} does not alternate running and runnable: {cells!r}\n{out}")


@case
def case_timeline_state_rows_for_many_tasks():
    """Many tasks: per-state histogram rows, whose peaks are the trace's."""
    out, events = traced("compare", "--procs", "1", "--runs", "1", "--sleepers", "300",
                         "--sleep", "20ms", "--cpu-tasks", "2", "--work", "1M", "--timeline")
    sleep_part = out[out.index("sleep-bound, procs=1:"):out.index("cpu-bound, procs=1:")]
    rows = {m.group(1): (m.group(2), m.group(3))
            for m in map(STATE_ROW.match, sleep_part.splitlines()) if m}
    check({"running", "runnable", "sleeping"} <= set(rows), sleep_part)
    check(not any(TASK_ROW.match(l) and "sleeper" in l for l in sleep_part.splitlines()),
          f"a row per task for 300 tasks:\n{sleep_part}")
    tracks, end_ns = coroutine_tracks(events, run=1)
    check(len(tracks) >= 300, len(tracks))
    count = len(rows["sleeping"][0])
    starts = column_starts(end_ns, count)
    for state, (cells, peak) in rows.items():
        per_column = [0] * count
        for slices in tracks.values():
            cols = set()
            for e in slices:
                if e["args"]["state"] == state:
                    cols.update(span_columns(round(e["ts"] * 1000),
                                             round((e["ts"] + e["dur"]) * 1000), starts))
            for c in cols:
                per_column[c] += 1
        check(int(peak) == max(per_column), f"{state}: peak {peak}, trace {max(per_column)}")
        for c, n in enumerate(per_column):
            check((cells[c] == " ") == (n == 0), f"{state}, column {c}: {cells[c]!r}, {n} tasks")
    check("coroutines were in each state" in out, out)


def check_coroutine_tracks(events, run):
    """The trace's structure for run `run`: each coroutine's slices tile its
    life without overlap, its running slices are the workers' slices, and
    every flow has both ends, start before finish."""
    tracks, end_ns = coroutine_tracks(events, run)
    check(tracks, f"run {run}: no coroutine tracks")
    worker = sorted((e["args"]["coroutine"], round(e["ts"] * 1000), round(e["dur"] * 1000))
                    for e in events if e["ph"] == "X" and e["pid"] == run)
    running = []
    for name, slices in tracks.items():
        g = int(name.rsplit("(G", 1)[1].rstrip(")"))
        for a, b in zip(slices, slices[1:]):
            check(abs(a["ts"] + a["dur"] - b["ts"]) <= 0.0015,
                  f"{name}: a gap or an overlap between {a} and {b}")
        last = slices[-1]
        exited = last["args"]["state"] == "running" and last["args"]["stop"] == "exit"
        check(exited or abs(last["ts"] + last["dur"] - end_ns / 1000) <= 0.0015,
              f"{name}: neither exits nor lasts to the end of the run: {last}")
        running += [(g, round(e["ts"] * 1000), round(e["dur"] * 1000)) for e in slices
                    if e["args"]["state"] == "running"]
    close = len(worker) == len(running) and all(
        a[0] == b[0] and abs(a[1] - b[1]) <= 1 and abs(a[2] - b[2]) <= 2
        for a, b in zip(worker, sorted(running)))
    check(close, f"run {run}: coroutine tracks' runs differ from the workers' slices")
    flows = {}
    for e in events:
        if e["ph"] in ("s", "f") and e["pid"] in (run, 1000 + run):
            flows.setdefault((e["cat"], e["id"]), {})[e["ph"]] = e
    for key, ends in flows.items():
        check(set(ends) == {"s", "f"}, f"flow {key} lacks an end: {ends}")
        check(ends["s"]["ts"] <= ends["f"]["ts"] + 0.0005, f"flow {key} goes back in time")
    return tracks, flows


@case
def case_trace_coroutine_tracks_and_flows():
    _, events = traced("concurrent", "--procs", "2", "--tasks", "3", "--steps", "3",
                       "--interval", "5ms")
    tracks, flows = check_coroutine_tracks(events, 1)
    check(len(tracks) == 3, sorted(tracks))
    timers = [k for k, v in flows.items() if k[0] == "wakeup" and v["s"]["name"] == "timer fired"]
    check(len(timers) == 6, f"3 tasks x 2 sleeps: {len(timers)} timer flows")
    sleeping = [e for s in tracks.values() for e in s if e["args"]["state"] == "sleeping"]
    check(len(sleeping) == 6, f"{len(sleeping)} sleeping slices")
    _, events = traced("concurrent", "--variant", "letters", "--procs", "2", "--interval", "2ms")
    check_coroutine_tracks(events, 1)
    _, events = traced("parallel", "--procs", "2", "--tasks", "4", "--work", "5M")
    check_coroutine_tracks(events, 1)


def png_is_blank(path):
    """Whether the PNG at `path` has (nearly) one colour: its decompressed
    image data holds at most three distinct byte values."""
    with open(path, "rb") as f:
        data = f.read()
    check(data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG")
    pos, idat = 8, b""
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    return len(set(zlib.decompress(idat))) <= 3


def peak(edges):
    """The most intervals open at once; `edges` are (time, +1 or -1)."""
    now = most = 0
    for _, d in sorted(edges):
        now += d
        most = max(most, now)
    return most


def running_peak(tracks):
    return peak([(round(e["ts"] * 1000) + (0 if d > 0 else round(e["dur"] * 1000)), d)
                 for s in tracks.values() for e in s
                 if e["args"]["state"] == "running" and e["dur"] > 0 for d in (1, -1)])


@case
def case_svg_renders_with_its_lanes():
    """--svg: a picture a real renderer draws, with a lane per worker and per
    task, and a summary that agrees with the trace of the same run."""
    if shutil.which("rsvg-convert") is None:
        print("skipped: rsvg-convert is not installed (Debian: apt-get install librsvg2-bin)")
        return
    runs = [("concurrent", "--procs", "1", "--tasks", "3", "--steps", "2", "--interval", "5ms"),
            ("parallel", "--procs", "2", "--tasks", "2", "--work", "5M"),
            ("compare", "--procs", "1", "--runs", "1", "--sleepers", "100", "--sleep", "5ms",
             "--cpu-tasks", "2", "--work", "1M")]
    for args in runs:
        with tempfile.TemporaryDirectory() as d:
            svg, png, trace = (os.path.join(d, n) for n in ("run.svg", "run.png", "t.json"))
            run_ok(*args, "--svg", svg, "--trace", trace)
            p = subprocess.run(["rsvg-convert", "-o", png, svg], capture_output=True, text=True)
            check(p.returncode == 0 and p.stderr == "", f"{args}: rsvg-convert: {p.stderr}")
            check(not png_is_blank(png), f"{args}: the picture is blank")
            root = ET.parse(svg).getroot()
            events = load_trace(trace)
        ns = "{http://www.w3.org/2000/svg}"
        texts = [t.text or "" for t in root.iter(ns + "text")]
        fills = {r.get("fill") for r in root.iter(ns + "rect")}
        check("#2ca02c" in fills and "#e0e0e0" in fills, f"{args}: no running or idle: {fills}")
        procs = int(args[args.index("--procs") + 1])
        check(all(f"P{w}" in texts for w in range(procs)), f"{args}: worker lanes: {texts}")
        tracks, _ = coroutine_tracks(events, 1)
        summary = next(t for t in texts if " worker" in t and "at most" in t)
        m = re.search(r"at most (\d+) running and \d+ in progress at once", summary)
        check(m and int(m.group(1)) == running_peak(tracks), f"{args}: {summary}")
        if args[0] == "compare":
            check(any(t.startswith("sleeping (max ") for t in texts), f"no state lanes: {texts}")
        else:
            names = {n.rsplit(" (G", 1)[0] for n in tracks}
            check(names <= set(texts), f"{args}: task lanes {names} not in {texts}")


RUN_LINE = re.compile(r"^ +(\d+\.\d+) ms  (.+?)(?:, its timer fired at (\d+\.\d+) ms,)?"
                      r"(?: waits (\d+\.\d+) ms for a worker, then)? runs on P(\d+) for "
                      r"(\d+\.\d+) ms(?: at the same time as (.*))?; then (.*)\.$")


def near(a, b, printed):
    """a (printed with `printed` decimals) is b (ms) as printed."""
    return abs(float(a) - b) <= 0.6 * 10 ** -len(printed.split(".")[1]) + 1e-9


@case
def case_explain_claims_match_the_trace():
    """--explain: every run it tells is in the trace as told (where, when,
    how long, what came before and after); its counts of repeated runs add
    up; its verdict and its figure for more workers are the trace's."""
    for args in (("concurrent", "--procs", "1", "--tasks", "2", "--steps", "6", "--interval",
                  "10ms"),
                 ("parallel", "--procs", "1", "--tasks", "2", "--work", "20M"),
                 ("parallel", "--procs", "2", "--tasks", "2", "--work", "10M")):
        out, events = traced(*args, "--explain", "--wide")
        tracks, _ = coroutine_tracks(events, 1)
        by_label = {name.rsplit(" (G", 1)[0]: s for name, s in tracks.items()}
        told = summarised = 0
        for line in out.splitlines():
            m = RUN_LINE.match(line)
            if m:
                told += 1
                t, task, fired, waited, worker, dur, beside, then = m.groups()
                slices = by_label[task]
                i = next((i for i, e in enumerate(slices) if e["args"]["state"] == "running" and
                          e["args"]["worker"] == int(worker) and near(t, e["ts"] / 1e3, t)), None)
                check(i is not None, f"no such run in the trace: {line}")
                run = slices[i]
                check(near(dur, run["dur"] / 1e3, dur), f"duration: {line} vs {run}")
                if waited:
                    check(i > 0 and slices[i - 1]["args"]["state"] == "runnable" and
                          near(waited, slices[i - 1]["dur"] / 1e3, waited), line)
                if fired:
                    check(i > 1 and slices[i - 2]["args"]["state"] == "sleeping" and
                          near(fired, slices[i - 1]["ts"] / 1e3, fired), line)
                nxt = slices[i + 1] if i + 1 < len(slices) else None
                if then.startswith("it sleeps"):
                    check(nxt and nxt["args"]["state"] == "sleeping", line)
                    s = re.search(r"for (\d+\.\d+) ms", then)
                    check(not s or near(s.group(1), nxt["dur"] / 1e3, s.group(1)), line)
                elif then == "it is done":
                    check(run["args"]["stop"] == "exit", line)
                elif then.startswith("its time slice"):
                    check(run["args"]["stop"] == "preempt", line)
                if beside:
                    for other, w in re.findall(r"(.+?) \(P(\d+)\)(?:, |$)", beside):
                        check(any(e["args"]["state"] == "running" and
                                  e["args"]["worker"] == int(w) and
                                  e["ts"] < run["ts"] + run["dur"] and
                                  run["ts"] < e["ts"] + e["dur"] for e in by_label[other]),
                              f"{other} did not run beside: {line}")
            s = re.match(r"^ +\.\.\. the same \d+ more times? \((\d+) runs?\)", line)
            if s:
                summarised += int(s.group(1))
        runs = sum(1 for s in tracks.values() for e in s if e["args"]["state"] == "running")
        check(told + summarised == runs, f"{args}: told {told} + {summarised}, ran {runs}:\n{out}")
        # The verdict.
        most_running = running_peak(tracks)
        progress = []
        for s in tracks.values():
            first = next((e["ts"] for e in s if e["args"]["state"] == "running"), None)
            if first is not None:
                progress += [(first, 1), (s[-1]["ts"] + s[-1]["dur"], -1)]
        verdict = re.search(r"What it shows: (.*)", out).group(1)
        if most_running >= 2:
            check(verdict.startswith(("both", "parallelism")), f"{most_running}: {verdict}")
        elif peak(progress) >= 2:
            check(verdict.startswith("concurrency without parallelism"), verdict)
        else:
            check(verdict.startswith("neither"), verdict)
        longest = max(sum(e["dur"] for e in s if e["args"]["state"] == "runnable")
                      for s in tracks.values()) / 1e3
        more = re.search(r"With more workers: (.*)", out).group(1)
        figure = re.search(r"(?:waited|more than) (\d+\.\d+) ms in all", more).group(1)
        check(near(figure, longest, figure), f"longest wait {longest} ms: {more}")
    check("concurrency without parallelism" in out or "parallelism" in out, out)


@case
def case_pictures_of_an_interrupted_run():
    """Ctrl-C: every picture draws the run up to the interruption, says so,
    and still agrees with the trace."""
    with tempfile.TemporaryDirectory() as d:
        trace, svg = os.path.join(d, "t.json"), os.path.join(d, "run.svg")
        rc, out, err = interrupt_after(["concurrent", "--steps", "100000", "--interval", "20ms",
                                        "--format", "json", "--timeline", "--explain",
                                        "--trace", trace, "--svg", svg, "--wide"], ready=4)
        check(rc == 130, f"exit {rc}, expected 130\n{err}")
        events = load_trace(trace)
        root = ET.parse(svg).getroot()
    check(json.loads(out)["interrupted"] is True, out)
    check("(interrupted by Ctrl-C: drawn up to" in err, f"the timeline does not say so:\n{err}")
    check(re.search(r"told from its trace \(interrupted by Ctrl-C at [\d.]+ ms", err), err)
    check_task_rows(err, events)
    check(any(e["ph"] == "M" and e["name"] == "process_name" and
              "(interrupted by Ctrl-C)" in e["args"]["name"] for e in events), "trace")
    titles = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
    check(any("interrupted by Ctrl-C" in t for t in titles), titles)


# ---------------------------------------------------------------------------
# Pictures: the OS taking the CPU away, timer wake-ups, compare's 2x2,
# hand-offs between coroutines

OFF_CPU_ROW = re.compile(r"^ +P(\d+) \|([^|]*)\| +(\d+)% ~ *(\d+)%$")

# How far (in percentage points) a worker's off-CPU share in the picture may
# lie from the one its tasks' own CPU clocks give: the picture samples the
# worker threads' CPU clocks every 2 ms or so, and counts the threads' own
# scheduling work as on-CPU time.
OFF_CPU_TOLERANCE = 12


@case
def case_timeline_shows_the_os_taking_turns():
    """4 CPU-bound tasks on 4 workers: each worker row ends with the share
    of its busy time its thread was off the CPU, which agrees with the run's
    own numbers (each task's CPU time, from the thread CPU clock, against
    the time it held its worker, from the trace); with fewer CPUs than
    workers the OS takes turns, and the rows show it."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "t.json")
        doc, err = run_json("parallel", "--procs", "4", "--tasks", "4", "--work", "25M",
                            "--timeline", "--trace", path)
        events = load_trace(path)
    rows = {int(m.group(1)): m for m in map(OFF_CPU_ROW.match, err.splitlines()) if m}
    check(sorted(rows) == [0, 1, 2, 3], f"worker rows with an off-CPU share:\n{err}")
    check("~N%: the share of its busy time the worker's thread was off the CPU" in err, err)
    held = {w: 0.0 for w in range(4)}           # ms each worker ran a task
    ran = {}                                    # (coroutine, worker) -> ms
    for e in events:
        if e["ph"] == "X" and e["pid"] == 1:
            held[e["tid"]] += e["dur"] / 1e3
            key = (e["args"]["coroutine"], e["tid"])
            ran[key] = ran.get(key, 0.0) + e["dur"] / 1e3
    on_cpu = {w: 0.0 for w in range(4)}
    for t in doc["results"]:
        total = sum(v for (g, _), v in ran.items() if g == t["coroutine"])
        for (g, w), v in ran.items():
            if g == t["coroutine"] and total > 0:
                on_cpu[w] += t["cpu_ms"] * v / total
    shares = {}
    for w, m in rows.items():
        want = 100 * max(0.0, 1 - on_cpu[w] / held[w]) if held[w] > 0 else 0
        got = int(m.group(4))
        shares[w] = got
        check(abs(got - want) <= OFF_CPU_TOLERANCE,
              f"P{w}: picture {got}% off CPU, the run's CPU time says {want:.0f}% "
              f"(CPU {on_cpu[w]:.1f} ms of {held[w]:.1f} ms held):\n{err}")
    if doc["cpus"] < 4:
        # 4 busy threads on fewer CPUs: each is off the CPU a good part of
        # the time, and the picture marks where.
        # The CPUs could give the held time at most cpus x wall of CPU time:
        # the rest of it was off the CPU, however the OS shared the CPUs out.
        held_total = sum(held.values())
        off_total = sum(shares[w] / 100 * held[w] for w in shares)
        must = held_total - doc["cpus"] * doc["wall_ms"] - OFF_CPU_TOLERANCE / 100 * held_total
        check(off_total >= must,
              f"{doc['cpus']} CPUs for 4 busy threads over {doc['wall_ms']:.1f} ms held "
              f"{held_total:.1f} ms: at least {must:.1f} ms off the CPU, the picture shows "
              f"{off_total:.1f} ms (shares {shares}):\n{err}")
        check(any("~" in m.group(2) for m in rows.values()), f"no ~ in the worker rows:\n{err}")
        check("~ held a task but off the CPU" in err, f"the legend lacks ~:\n{err}")


@case
def case_off_cpu_in_trace_and_svg():
    """The same marks in Perfetto (a counter per worker) and in the SVG (a
    bar of its own colour, in the legend)."""
    with tempfile.TemporaryDirectory() as d:
        trace, svg = os.path.join(d, "t.json"), os.path.join(d, "run.svg")
        run_ok("parallel", "--procs", "3", "--tasks", "3", "--work", "10M", "--trace", trace,
               "--svg", svg)
        events = load_trace(trace)
        root = ET.parse(svg).getroot()
    counters = {e["name"] for e in events if e["ph"] == "C" and e["pid"] == 1}
    check(counters == {"P0 off CPU", "P1 off CPU", "P2 off CPU"}, counters)
    for e in events:
        if e["ph"] == "C":
            check(0 <= e["args"]["% of held time"] <= 100, e)
    ns = "{http://www.w3.org/2000/svg}"
    texts = [t.text or "" for t in root.iter(ns + "text")]
    check("held a task, off CPU" in texts, texts)


@case
def case_sleep_wakes_are_timer_wakes():
    """A sleep's end is the timer's wake-up in every picture: the -vv event
    log, the trace's flows and the narration."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "t.json")
        out, err = run_ok("concurrent", "--procs", "1", "--tasks", "2", "--steps", "2",
                          "--interval", "5ms", "--explain", "--trace", path,
                          env={"SPDLOG_LEVEL": "trace"})
        events = load_trace(path)
    unblocks = [l for l in err.splitlines() if "made runnable by" in l]
    check(len(unblocks) == 2 and all(l.endswith("made runnable by its timer") for l in unblocks),
          "\n".join(unblocks))
    flows = [e for e in events if e["ph"] == "s" and e["cat"] == "wakeup"]
    check(len(flows) == 2 and all(e["name"] == "timer fired" for e in flows), flows)
    check(len(re.findall(r"its timer fired at", out)) == 2, out)


def glance_rows(out):
    """compare's 2x2: {workload: (1 worker, N workers, what it shows)}."""
    rows = {}
    for m in re.finditer(r"^  (sleep-bound|cpu-bound|io-bound) +(\S+ ms|-) +(\S+ ms|-)  (.*)$",
                         out, re.M):
        rows[m.group(1)] = (m.group(2), m.group(3), m.group(4))
    return rows


@case
def case_compare_opens_with_the_2x2():
    """The 2x2 comes first, fits 80 columns, and every figure in it is the
    table's figure of the same run (wall time medians, speedups); its
    verdicts are the conclusions' (faster, within noise, ...)."""
    out, _ = run_ok(*COMPARE_SMALL)
    glance = out.index("At a glance")
    check(glance < out.index("workload "), f"the 2x2 does not come first:\n{out}")
    head = out[glance:out.index("workload ")]
    check(all(len(l) <= 80 for l in head.splitlines()), f"wider than 80 columns:\n{head}")
    check(re.search(r"^ +1 worker +2 workers  what it shows$", head, re.M), head)
    rows = glance_rows(head)
    check(set(rows) == {"sleep-bound", "cpu-bound", "io-bound"}, head)
    table = {(m.group(1), int(m.group(2))): (m.group(3), m.group(4))
             for m in re.finditer(r"^(sleep-bound|cpu-bound|io-bound) +coroutines +(\d+) +[\d,]+ +"
                                  r"([\d.]+) +[\d.]+ +([\d.]+)x", out, re.M)}
    check(len(table) == 6, out)
    # The io-bound line goes on to the threads row: its verdict on more
    # workers is the part before.
    conclusion = {w: re.search(rf"^{w}: (.*(?:\n  .*)*)", out, re.M).group(1).replace("\n  ", " ")
                  .split("; one OS thread per connection")[0] for w in rows}
    for workload, (one, many, shows) in rows.items():
        check(one == table[(workload, 1)][0] + " ms", f"{workload}: {one} vs {table}")
        check(many == table[(workload, 2)][0] + " ms", f"{workload}: {many} vs {table}")
        speedup = re.match(r"(\d+\.\d\d)x", shows)
        check(speedup and speedup.group(1) == table[(workload, 2)][1], f"{shows} vs {table}")
        said = conclusion[workload]
        if "within noise" in shows:
            check("within noise" in said or "no faster" in said, f"{shows} / {said}")
        elif "faster" in shows:
            check("faster" in said, f"{shows} / {said}")
    # JSON of another run: the 2x2 goes with the text, to stderr, and its
    # figures are that run's medians.
    doc, err = run_json(*COMPARE_SMALL)
    rows = glance_rows(err)
    for workload, (one, many, shows) in rows.items():
        med = {r["procs"]: r for r in doc["rows"] if r["workload"] == workload}
        # The JSON keeps 3 decimals, the 2x2 shows 1 (2 for the speedup):
        # the same figure rounded, within half the shown unit of the JSON's.
        def shown(text, unit, value, step):
            return text.endswith(unit) and abs(float(text[:-len(unit)]) - value) <= step / 2 + 1e-3
        check(shown(one, " ms", med[1]["wall_ms_median"], 0.1), f"{one} vs {med[1]}")
        check(shown(many, " ms", med[2]["wall_ms_median"], 0.1), f"{many} vs {med[2]}")
        speedup = re.match(r"([\d.]+x)", shows)
        check(speedup and shown(speedup.group(1), "x", med[2]["speedup"], 0.01),
              f"{shows} vs {med[2]}")


@case
def case_compare_2x2_interrupted():
    """Ctrl-C: the 2x2 shows the medians measured so far and draws no
    conclusion, as the rest of the report."""
    rc, _, err = interrupt_after(["compare", "--procs", "1,2", "--runs", "1", "--sleepers",
                                  "10", "--sleep", "50ms", "--work", "1000G", "--format", "csv"],
                                 ready=r"sleep-bound on coroutines, procs=1: ")
    check(rc == 130, f"exit {rc}, expected 130\n{err}")
    rows = glance_rows(err)
    check(rows and all(r[2] == "interrupted: no conclusion" for r in rows.values()), err)
    check(rows["sleep-bound"][0].endswith(" ms") and rows.get("cpu-bound", ("-",))[0] == "-",
          err)


@case
def case_channel_handoff_flows_and_narration():
    """--variant channel: each task's receive is woken by the send of the
    task before it in the ring; the trace draws a flow from the sender's
    running slice (the send) to the receiver's next run, and the narration
    says who woke whom, when."""
    tasks, steps = 3, 2
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "t.json")
        doc, err = run_json("concurrent", "--variant", "channel", "--procs", "1", "--tasks",
                            str(tasks), "--steps", str(steps), "--interval", "5ms", "--trace",
                            path, "--explain", "--wide")
        events = load_trace(path)
    check(doc["variant"] == "channel" and not doc["interrupted"], doc)
    order = [(e["task"], e["step"]) for e in doc["events"]]
    want = [(f"Task {chr(65 + i)}", s) for s in range(1, steps + 1) for i in range(tasks)]
    check(order == want, f"the token's order: {order}")
    tracks, flows = check_coroutine_tracks(events, 1)
    gid = {name.rsplit(" (G", 1)[0]: int(name.rsplit("(G", 1)[1].rstrip(")")) for name in tracks}
    by_g = {gid[n.rsplit(" (G", 1)[0]]: s for n, s in tracks.items()}
    handoffs = [v for k, v in flows.items() if k[0] == "wakeup" and
                v["s"]["name"].startswith("woken by G")]
    check(len(handoffs) == tasks * steps - 1, f"{len(handoffs)} hand-offs: {handoffs}")
    names = {g: n for n, g in gid.items()}
    told = {}
    for h in handoffs:
        sender, receiver = h["s"]["tid"], h["f"]["tid"]
        check(h["s"]["name"] == f"woken by G{sender}", h)
        s_name, r_name = names[sender], names[receiver]
        check(ord(r_name[-1]) - 65 == (ord(s_name[-1]) - 65 + 1) % tasks,
              f"{s_name} woke {r_name}: not the next in the ring")
        check(any(e["args"]["state"] == "running" and
                  e["ts"] <= h["s"]["ts"] <= e["ts"] + e["dur"] + 0.001 for e in by_g[sender]),
              f"the flow does not start in {s_name}'s run: {h}")
        nxt = [e for e in by_g[receiver] if e["args"]["state"] == "running" and
               abs(e["ts"] - h["f"]["ts"]) <= 0.001]
        check(nxt, f"the flow does not end at {r_name}'s next run: {h}")
        before = [e for e in by_g[receiver] if e["ts"] + e["dur"] <= h["s"]["ts"] + 0.001]
        check(before and any(e["args"]["state"] == "blocked" and
                             e["args"]["wait"].startswith("chan") for e in before[-2:]),
              f"{r_name} was not blocked on its channel before: {before[-2:]}")
        told[(r_name, round(h["s"]["ts"] / 1e3, 1))] = s_name
    woken = re.findall(r"^ +[\d.]+ ms  (Task \w+), woken by (Task \w+) at ([\d.]+) ms,", err, re.M)
    folded = "... the same" in err  # repeated runs told once and counted
    check(len(woken) == len(handoffs) or (folded and woken),
          f"{len(woken)} told, {len(handoffs)} hand-offs:\n{err}")
    for receiver, sender, at in woken:
        match = [s for (r, t), s in told.items() if r == receiver and abs(t - float(at)) <= 0.11]
        check(match == [sender], f"{receiver} woken by {sender} at {at}: trace {told}")


# ---------------------------------------------------------------------------
# I/O lessons: --sleep (the pitfall of a blocking call) and demo server


def pitfall_run(kind, procs=1, *extra):
    """demo concurrent with 3 tasks x 2 steps 100 ms apart (300 ms of sleeps
    in all) slept the `kind` way; returns the JSON document."""
    doc, _ = run_json("concurrent", "--procs", str(procs), "--tasks", "3", "--steps", "2",
                      "--interval", "100ms", "--sleep", kind, *extra)
    check(doc["sleep"] == kind and doc["slept_ms"] == 300 and doc["interrupted"] is False, doc)
    doc["tasks_ms"] = doc["wall_ms"] - doc["first_start_ms"]
    return doc


def check_bad_inputs(cases):
    for args, message in cases:
        rc, out, err = run(*args)
        what = f"demo {' '.join(args)}"
        check(rc == 2 and out == "", f"{what}: exit {rc}, stdout {out!r}\n{err}")
        lines = err.splitlines()
        check(len(lines) == 1 and lines[0].startswith("demo: ") and re.search(message, lines[0]),
              f"{what}: expected one line matching {message!r}, got:\n{err}")


@case
def case_pitfall_corun_sleep_overlaps():
    doc = pitfall_run("corun")
    # One worker overlaps the three sleeps: about 100 ms, not 300.
    check(doc["tasks_ms"] < 0.7 * doc["slept_ms"], doc)
    check(doc["summary"].endswith("their waits overlapped (concurrency)."), doc["summary"])


@case
def case_pitfall_os_sleep_holds_the_worker():
    doc = pitfall_run("os")
    # Each OS sleep held the only worker's thread: one after another, the
    # wall time is at least the sum of the sleeps.
    check(doc["tasks_ms"] >= 0.95 * doc["slept_ms"], doc)
    check(doc["workers_used"] == [0], doc)
    check("ran one after another" in doc["summary"] and "concurrency lost" in doc["summary"] and
          "overlapped" not in doc["summary"], doc["summary"])
    m = re.search(r"\((\d+) ms for 300 ms of sleeps\)", doc["summary"])
    check(m and abs(int(m.group(1)) - doc["tasks_ms"]) <= 1, (doc["summary"], doc["tasks_ms"]))
    rows, _, _ = run_csv("concurrent", "--procs", "1", "--tasks", "2", "--steps", "2",
                         "--interval", "20ms", "--sleep", "os")
    summary = [r for r in rows if r["record"] == "summary"]
    check(len(summary) == 1 and summary[0]["sleep"] == "os", rows)


@case
def case_pitfall_blocking_sleep_overlaps_again():
    doc = pitfall_run("blocking")
    # The same OS sleeps inside corun::blocking(): the worker is handed to
    # another thread while each sleep holds one, so they overlap again on
    # one worker.
    check(doc["tasks_ms"] < 0.7 * doc["slept_ms"], doc)
    check(doc["workers_used"] == [0], doc)
    check("overlapped although each OS sleep held a thread" in doc["summary"] and
          "concurrency kept" in doc["summary"], doc["summary"])


@case
def case_pitfall_blocking_timeline_cuts_the_off_cpu_view():
    """A blocking call hands its worker to another thread: from then on the
    worker's first thread is not the one that runs it, so its CPU clock says
    nothing of the worker; the timeline's off-CPU marks stop there and the
    legend says so, exactly when the trace shows a hand-off."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "t.json")
        _, err = run_json("concurrent", "--procs", "1", "--tasks", "3", "--steps", "2",
                          "--interval", "100ms", "--sleep", "blocking", "--timeline",
                          "--trace", path)
        events = load_trace(path)
    handed = any("syscall" in json.dumps(e.get("args", {})) for e in events)
    check(handed, "100 ms calls in blocking() were never handed off: no syscall stop in the trace")
    check("handed a worker to another thread" in err, f"the legend does not say so:\n{err}")


@case
def case_pitfall_os_sleep_on_several_workers():
    # With a worker per task the OS sleeps may overlap again, on several
    # threads: whatever happened, the summary must say what the numbers show.
    doc = pitfall_run("os", 3)
    overlap = doc["slept_ms"] / doc["tasks_ms"]
    if overlap >= 1.2:
        check(len(doc["workers_used"]) > 1, doc)
        check(f"ran on {len(doc['workers_used'])} worker threads at once" in doc["summary"],
              doc["summary"])
    else:
        check("concurrency lost" in doc["summary"], doc["summary"])


@case
def case_pitfall_bad_sleep():
    check_bad_inputs([
        (["concurrent", "--sleep", "nap"], r'--sleep: expected corun, os or blocking, got "nap"'),
        (["concurrent", "--sleep", ""], r'--sleep: expected corun, os or blocking'),
    ])


@case
def case_sigint_during_os_sleep():
    # Ctrl-C while a task holds a thread in a 1 s OS sleep (the only
    # worker's, or with blocking another one's): the run ends once that sleep
    # is over (within one interval), exit 130.
    for kind in ("os", "blocking"):
        start = time.monotonic()
        rc, out, err = interrupt_after(["concurrent", "--procs", "1", "--steps", "1000",
                                        "--interval", "1s", "--sleep", kind, "--format",
                                        "json"], ready=2)
        took = time.monotonic() - start
        check(rc == 130, f"{kind}: exit {rc}, expected 130\n{err}")
        doc = json.loads(out)
        check(doc["interrupted"] is True and doc["overlap"] is None, doc)
        check(doc["summary"].startswith("Interrupted (Ctrl-C)"), doc["summary"])
        check(took < 10, f"{kind}: took {took:.1f} s to stop")


def server_json(*args):
    doc, err = run_json("server", *args)
    check(doc["command"] == "server" and doc["interrupted"] is False, doc)
    check(doc["requests_done"] == doc["clients"] * doc["requests"], doc)
    check(all(r["latency_ms"] is not None for r in doc["request_list"]), doc["request_list"])
    doc["serving_ms"] = doc["wall_ms"] - doc["first_request_ms"]
    return doc, err


@case
def case_server_one_worker_serves_requests_at_once():
    doc, err = server_json("--procs", "1", "--clients", "4", "--requests", "2", "--backend",
                           "50ms")
    check(doc["sleep"] == "corun" and doc["backend_waited_ms"] == 400, doc)
    for r in doc["request_list"]:
        check(r["latency_ms"] >= 49 and r["handler_worker"] == 0, r)
        check(r["sent_ms"] <= r["received_ms"] <= r["replied_ms"] <= r["answered_ms"], r)
    # 400 ms of backend waits, one after another, would take 400 ms: well
    # below proves they overlapped on the one worker.
    check(doc["serving_ms"] < 0.7 * doc["backend_waited_ms"], doc)
    check(2 <= doc["peak_in_progress"] <= 4, doc)
    check(abs(doc["overlap"] - doc["backend_waited_ms"] / doc["serving_ms"]) < 0.01, doc)
    lat = sorted(r["latency_ms"] for r in doc["request_list"])
    check(doc["latency_min_ms"] == lat[0] and doc["latency_max_ms"] == lat[-1], doc)
    check(doc["summary"].endswith(
        f"One worker served {doc['peak_in_progress']} requests at once "
        f"({doc['backend_waited_ms']:.0f} ms of backend waits in {doc['serving_ms']:.0f} ms): "
        "their waits overlapped (concurrency)."), doc["summary"])
    check(re.search(r"8 requests answered in \d+ ms from the first request \([\d.]+ requests/s\)",
                    doc["summary"]), doc["summary"])


@case
def case_server_os_sleep_serves_one_at_a_time():
    doc, _ = server_json("--procs", "1", "--clients", "3", "--backend", "50ms", "--sleep", "os")
    check(doc["sleep"] == "os" and doc["backend_waited_ms"] == 150, doc)
    check(doc["serving_ms"] >= 0.95 * doc["backend_waited_ms"], doc)
    check(doc["peak_in_progress"] == 1, doc)
    check("served one after another" in doc["summary"] and "concurrency lost" in doc["summary"],
          doc["summary"])


@case
def case_server_blocking_sleep_serves_at_once_again():
    doc, _ = server_json("--procs", "1", "--clients", "3", "--backend", "100ms", "--sleep",
                         "blocking")
    check(doc["serving_ms"] < 0.7 * doc["backend_waited_ms"], doc)
    check(doc["peak_in_progress"] >= 2, doc)
    check("concurrency kept" in doc["summary"], doc["summary"])


SERVER_LINE = re.compile(r"^ *\d+\.\d ms  P(\d+)  G(\d+)  (.+)$")


@case
def case_server_table_and_pictures():
    with tempfile.TemporaryDirectory() as d:
        trace, svg = os.path.join(d, "t.json"), os.path.join(d, "t.svg")
        out, _ = run_ok("server", "--procs", "1", "--clients", "2", "--requests", "2",
                        "--backend", "20ms", "--timeline", "--explain", "--trace", trace,
                        "--svg", svg, "--wide")
        lines = [m.group(3) for m in map(SERVER_LINE.match, out.splitlines()) if m]
        check(re.fullmatch(r"server: listening on 127\.0\.0\.1:\d+", lines[0]), lines)
        for c in (1, 2):
            for q in (1, 2):
                check(f"client {c} sends request {q}" in lines, (c, q, lines))
                check(f"server: request {q} from client {c}, backend 20 ms" in lines, lines)
        check(sum(bool(re.fullmatch(r"client \d got its response after [\d.]+ ms", l))
                  for l in lines) == 4, lines)
        check("All requests answered." in out, out)
        for row in ("client 1", "client 2", "server", "handler 1", "handler 2"):
            check(re.search(rf"^ *{row} \|", out, re.M), f"no timeline row {row}:\n{out}")
        names = {e["args"]["name"] for e in load_trace(trace)
                 if e.get("ph") == "M" and e.get("name") == "thread_name"}
        check(any(n.startswith("handler 1") for n in names), names)
        ET.parse(svg)


@case
def case_server_csv():
    rows, _, _ = run_csv("server", "--procs", "1", "--clients", "2", "--backend", "10ms")
    kinds = [r["record"] for r in rows]
    check(kinds.count("request") == 2 and kinds.count("summary") == 1, kinds)
    summary = rows[-1]
    check(summary["requests_done"] == "2" and summary["sleep"] == "corun", summary)
    check(float(summary["peak_in_progress"]) >= 1 and summary["interrupted"] == "false", summary)


@case
def case_server_bad_inputs():
    check_bad_inputs([
        (["server", "--clients", "0"], r'--clients: expected an integer 1\.\.1000, got "0"'),
        (["server", "--clients", "5000"], r'--clients: expected an integer 1\.\.1000'),
        (["server", "--requests", "0"], r'--requests: expected an integer 1\.\.100000, got "0"'),
        (["server", "--clients", "1000", "--requests", "1000"],
         r'--requests: expected at most 100000 requests in all .*got 1000 x 1000'),
        (["server", "--backend", "5parsecs"], r'--backend: expected a duration'),
        (["server", "--backend", "2h"], r'--backend: expected a duration'),
        (["server", "--sleep", "nap"], r'--sleep: expected corun, os or blocking'),
        (["server", "--procs", "0"], r'--procs: expected an integer 1\.\.1024'),
    ])


@case
def case_sigint_server():
    with tempfile.TemporaryDirectory() as d:
        trace = os.path.join(d, "t.json")
        rc, out, err = interrupt_after(["server", "--procs", "1", "--clients", "3", "--requests",
                                        "1000", "--backend", "1s", "--format", "json",
                                        "--trace", trace], ready=r"server: request")
        check(rc == 130, f"exit {rc}, expected 130\n{err}")
        doc = json.loads(out)
        check(doc["interrupted"] is True and doc["requests_done"] < 3000, doc)
        for key in ("requests_per_s", "latency_min_ms", "latency_median_ms", "latency_max_ms",
                    "peak_in_progress", "overlap"):
            check(doc[key] is None, f"{key} from unfinished work: {doc[key]}")
        check(doc["summary"].startswith("Interrupted (Ctrl-C) after"), doc["summary"])
        check("concurrency" not in doc["summary"], doc["summary"])
        load_trace(trace)


# ---------------------------------------------------------------------------
# Network I/O: demo bench echo


@case
def case_bench_echo_line():
    """The echo workload prints the peers' line with the connections and the
    set-up time, at any --tasks; a bad --tasks is one line on stderr."""
    for procs, tasks in (("1", "1"), ("2", "30")):
        out, _ = run_ok("bench", "echo", "--procs", procs, "--n", "600", "--tasks", tasks,
                        "--format", "json")
        r = json.loads(out)
        check(r["workload"] == "echo" and r["n"] == 600 and r["tasks"] == int(tasks), out)
        check(r["procs"] == int(procs) and r["ns_per_op"] > 0 and r["setup_ms"] > 0, out)
        check(abs(r["ns_per_op"] * 600 / 1e6 - r["wall_ms"]) < 0.01, out)
    out, _ = run_ok("bench", "echo", "--n", "200", "--tasks", "3", "--procs", "1")
    check(re.search(r"^echo +1 +200 .*3 connections, set up in", out, re.M), out)
    rc, out, err = run("bench", "echo", "--tasks", "0")
    check(rc == 2 and out == "" and len(err.strip().splitlines()) == 1 and "--tasks" in err,
          f"exit {rc}: {err}")


# ---------------------------------------------------------------------------
# Seeing inside a running program: --dump-after, CORUN_DEBUG (schedtrace,
# scheddetail, sigquit)

# Go's schedtrace line (runtime/proc.go), without needspinning (Go 1.21+).
SCHED_LINE = re.compile(
    r"^SCHED (\d+)ms: gomaxprocs=(\d+) idleprocs=(\d+) threads=(\d+) spinningthreads=(\d+) "
    r"idlethreads=(\d+) runqueue=(\d+) \[([0-9 ]*)\]$")


@case
def case_dump_after_shows_the_tasks_parked_on_their_timers():
    out, _ = run_ok("concurrent", "--procs", "1", "--interval", "200ms", "--dump-after", "100ms",
                    "--wide")
    check(re.search(r"^--- \d+(\.\d+)? ms: coroutine dump: 2 live coroutines; 2 that have "
                    r"blocked at least once are listed$", out, re.M),
          f"no dump header:\n{out}")
    check("2 coroutines [sleep]:" in out, f"the two tasks are not listed asleep:\n{out}")
    check("corun::this_coroutine::" in out and "RunState::run_task" in out,
          f"no frames of the sleep and of the task:\n{out}")
    # The dump comes between the first steps and the second.
    lines = out.splitlines()
    dump_at = next(i for i, l in enumerate(lines) if l.startswith("--- "))
    check(any("Task A: 1" in l for l in lines[:dump_at]), f"dump before step 1:\n{out}")
    check(any("Task A: 2" in l for l in lines[dump_at:]), f"dump after step 2:\n{out}")
    rc, out, err = run("concurrent", "--dump-after", "soon")
    check(rc != 0 and out == "" and len(err.splitlines()) == 1 and "--dump-after" in err,
          f"--dump-after soon: exit {rc}\n{out}{err}")


@case
def case_dump_after_shows_running_tasks_backtraces():
    # --sleep os: each task holds its worker's thread in the OS sleep, so
    # the dump finds both running; their threads answer its signal with
    # their stacks (the sleep goes on: it resumes after the signal).
    out, _ = run_ok("concurrent", "--procs", "2", "--steps", "2", "--sleep", "os",
                    "--interval", "400ms", "--dump-after", "150ms", "--wide")
    check(re.search(r"coroutine dump: 2 live coroutines; .*(2 running|2 that have blocked)", out),
          f"no dump header:\n{out}")
    # One group of two ("2 coroutines [running]: 2 1") or two of one.
    running = [m.start() for m in re.finditer(r"^(coroutine \d+ \[running\]:|"
                                              r"2 coroutines \[running\]:( \d+)+)$", out, re.M)]
    check(running, f"no running coroutine listed:\n{out}")
    check("RunState::run_task" in out[running[0]:] and "(no backtrace" not in out,
          f"no frames of the running tasks:\n{out}")
    check("Task A: 2" in out and "Task B: 2" in out, f"the run did not finish:\n{out}")


@case
def case_schedtrace_lines_in_gos_format():
    _, err = run_ok("concurrent", "--procs", "2", "--steps", "4", "--interval", "100ms",
                    env={"CORUN_DEBUG": "schedtrace=50"})
    lines = [l for l in err.splitlines() if l.startswith("SCHED ")]
    check(len(lines) >= 3, f"expected a SCHED line every 50 ms for 300 ms:\n{err}")
    times = []
    for line in lines:
        m = SCHED_LINE.match(line)
        check(m, f"not Go's format: {line!r}")
        check(m.group(2) == "2" and len(m.group(8).split()) == 2, f"2 workers: {line!r}")
        check(int(m.group(3)) <= 2 and int(m.group(6)) <= 2, f"idle counts: {line!r}")
        times.append(int(m.group(1)))
    check(times == sorted(times) and times[0] >= 50, f"times: {times}")
    _, err = run_ok("concurrent", "--procs", "2", "--interval", "100ms",
                    env={"CORUN_DEBUG": "schedtrace=50,scheddetail=1"})
    check(re.search(r"^  P0: status=[01] schedtick=\d+ m=0 runqsize=\d+ timerslen=\d+$", err, re.M)
          and re.search(r"^  P1: status=[01] schedtick=\d+ m=1 ", err, re.M),
          f"no worker lines:\n{err}")
    check(re.search(r"^  G\d+: status=4\(sleep\)$", err, re.M), f"no sleeping coroutine:\n{err}")
    # Go's M lines, the fields that mean the same: one per worker thread here.
    for m in (0, 1):
        check(re.search(rf"^  M{m}: p=(-1|0|1) curg=-?\d+ spinning=(true|false) "
                        r"blocked=(true|false)$", err, re.M), f"no M{m} line:\n{err}")


@case
def case_corun_debug_bad_value_is_one_line():
    for value, expected in [("schedtrace=fast", "expected schedtrace=MS"),
                            ("sigquit=yes", "expected sigquit=0 or 1"),
                            ("gctrace=1", "unknown setting")]:
        # Refused before any output, as a bad GOMAXPROCS is: exit 2, one line.
        for command in ("concurrent", "parallel", "compare", "server"):
            rc, out, err = run(command, env={"CORUN_DEBUG": value})
            lines = err.splitlines()
            check(rc == 2 and out == "" and len(lines) == 1 and
                  f"CORUN_DEBUG: '{value}'" in lines[0] and expected in lines[0],
                  f"{command} with CORUN_DEBUG={value}: exit {rc}\nstdout:\n{out}\n{err}")
    rc, out, err = run("bench", "yield", "--n", "1000", env={"CORUN_DEBUG": "gctrace=1"})
    check(rc == 2 and out == "" and len(err.splitlines()) == 1, f"bench: exit {rc}\n{out}\n{err}")


@case
def case_sigquit_dumps_and_the_run_goes_on():
    env = dict(os.environ, CORUN_DEBUG="sigquit=1")
    p = subprocess.Popen([DEMO, "concurrent", "--procs", "1", "--steps", "2", "--interval",
                          "1500ms"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = p.stdout.readline()  # the header: the runtime runs
        check(first, "no output")
        p.stdout.readline()  # step 1 of Task A, which then sleeps 1.5 s
        p.stdout.readline()  # step 1 of Task B, likewise
        # Both park on their timers right after printing (microseconds); the
        # next step is 1.5 s away, so the dump a little later finds them there.
        time.sleep(0.3)
        p.send_signal(signal.SIGQUIT)
        out, err = p.communicate(timeout=TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
    check(p.returncode == 0, f"exit {p.returncode}\n{err}")
    check("SIGQUIT: coroutine dump:" in err and "[sleep" in err, f"no dump:\n{err}")
    check("All tasks done." in out, f"the run did not go on:\n{out}")


# ---------------------------------------------------------------------------
# Echo benchmark: the table line


@case
def case_bench_echo_one_connection_singular():
    """With one connection the table says "1 connection", not "1 connections"."""
    out, _ = run_ok("bench", "echo", "--n", "50", "--tasks", "1", "--procs", "1")
    check(re.search(r"^echo +1 +50 .* 1 connection, set up in", out, re.M), out)


# ---------------------------------------------------------------------------
# demo compare's io-bound row: a TCP server whose requests wait on a backend,
# at each procs value and with one OS thread per connection

def check_io_row(r, connections, requests, backend_ms):
    """An io-bound row of compare's JSON: its request count and its rate
    agree with its own wall time, and no run beat the backend waits that
    each client makes one after another."""
    check(r["requests"] == connections * requests and r["tasks"] == connections, r)
    check(r["checksum"] is None and r["rss_kib_per_task"] is None, r)
    rate = r["requests"] / (r["wall_ms_median"] / 1e3)
    check(abs(r["requests_per_s"] - rate) <= 0.002 * rate, f"{rate:.3f} requests/s vs {r}")
    check(all(s["wall_ms"] >= requests * backend_ms * 0.95 for s in r["samples"]),
          f"a run faster than {requests} backend waits of {backend_ms} ms: {r}")


def shown_rate(r):
    return f"{int(r['requests_per_s'] + 0.5):,} requests/s"


def rate_close(text, r):
    """`text` ("1,234 requests/s") is r's rate, up to the JSON's rounding."""
    value = int(text.split()[0].replace(",", ""))
    return abs(value - r["requests_per_s"]) <= 1 + 0.002 * r["requests_per_s"]


@case
def case_compare_io_row():
    """Every figure of the io-bound rows, in the table, the 2x2 and the
    conclusion, is the same run's: requests per second from the medians, the
    verdict on more workers and on one OS thread per connection from the
    stated rule (10% or the runs' spread)."""
    doc, err = run_json("compare", "--procs", "1,2", "--runs", "2", "--sleepers", "10",
                        "--sleep", "1ms", "--work", "10k", "--connections", "20", "--requests",
                        "3", "--backend", "20ms", "--wide")
    check(doc["connections"] == 20 and doc["requests_per_connection"] == 3 and
          doc["backend_ms"] == 20, doc)
    io = {r["procs"]: r for r in doc["rows"] if r["workload"] == "io-bound"}
    check(set(io) == {1, 2, None} and io[None]["runner"] == "threads", doc["rows"])
    for r in io.values():
        check_io_row(r, 20, 3, 20)
    # One worker overlaps the waits: 60 requests of 20 ms one after another
    # would take 1200 ms (the bound leaves room for a sanitizer build).
    check(io[1]["wall_ms_median"] < 0.75 * 60 * 20, io[1])
    # The table (on stderr with --format json) shows the same run's rates.
    for procs, r in io.items():
        label = "threads +-" if procs is None else f"coroutines +{procs}"
        m = re.search(rf"^io-bound +{label} +20 +(?:\S+ +){{5}}([\d,]+) ", err, re.M)
        check(m and rate_close(m.group(1) + " requests/s", r), f"{procs}: {r}\n{err}")
    line = doc["conclusions"][2]
    head = (f"io-bound: 1 worker serves 20 connections at once: 60 requests in "
            f"{io[1]['wall_ms_median']:.0f} ms, ")
    check(line.startswith(head[:head.index(" in ") + 4]), f"{line!r} vs {head!r}")
    m = re.match(r"io-bound: .*? ms, ([\d,]+ requests/s)", line)
    check(m and rate_close(m.group(1), io[1]), f"{line!r} vs {io[1]}")
    check("their 20 ms backend waits alone would take 1,200 ms" in line, line)
    workers, threads = line.split("; one OS thread per connection ")
    check_verdict(workers, io[1], io[2], min(2, doc["cpus"]))
    ratio = io[None]["requests_per_s"] / io[1]["requests_per_s"]
    margin = noise_margin(io[1], io[None])
    m = re.match(r"\(40 threads\): ([\d,]+ requests/s), (\d+\.\d\d)x 1 worker's rate: (\w+)",
                 threads)
    check(m and rate_close(m.group(1), io[None]), f"{threads!r} vs {io[None]}")
    check(abs(float(m.group(2)) - ratio) <= 0.006, f"{threads!r}: ratio {ratio:.3f}")
    word = ("more" if ratio >= 1 + margin else "fewer" if ratio <= 1 / (1 + margin) else "about")
    slack = 0.01
    if abs(ratio - (1 + margin)) > slack and abs(ratio - 1 / (1 + margin)) > slack:
        check(m.group(3) == word, f"{threads!r}: ratio {ratio:.3f}, margin {margin:.3f}")
    # CSV: the same fields.
    rows, out, _ = run_csv("compare", "--procs", "1", "--runs", "1", "--sleepers", "2",
                           "--sleep", "1ms", "--work", "1k", "--connections", "3",
                           "--requests", "2", "--backend", "1ms")
    io_rows = [r for r in records(rows, "row") if r["workload"] == "io-bound"]
    check([(r["runner"], r["procs"], r["tasks"], r["requests"]) for r in io_rows] ==
          [("coroutines", "1", "3", "6"), ("threads", "", "3", "6")], out)
    for r in io_rows:
        rate = 6 / (float(r["wall_ms_median"]) / 1e3)
        check(abs(float(r["requests_per_s"]) - rate) <= 0.002 * rate, r)
    [summary] = records(rows, "summary")
    check(summary["connections"] == "3" and summary["requests_per_connection"] == "2" and
          float(summary["backend_ms"]) == 1, summary)


@case
def case_compare_io_row_interrupted():
    """Ctrl-C during the io-bound rows (a backend that never answers in
    time): the run stops at once, the io-bound rows keep no cut-off run, and
    no conclusion is drawn."""
    start = time.monotonic()
    rc, out, err = interrupt_after(["compare", "--procs", "1", "--runs", "1", "--sleepers", "2",
                                    "--sleep", "1ms", "--work", "1k", "--requests", "10000",
                                    "--backend", "1s", "--format", "json"],
                                   ready=r"cpu-bound on coroutines, procs=1: ", delay=0.2)
    check(rc == 130, f"exit {rc}, expected 130\n{err}")
    check(time.monotonic() - start < 20, "compare did not stop on Ctrl-C in the io-bound row")
    doc = json.loads(out)
    check(doc["interrupted"] is True and doc["conclusions"] == [], doc)
    check(all(r["workload"] != "io-bound" for r in doc["rows"]), doc["rows"])
    check("Interrupted (Ctrl-C)" in err, err)
    check(re.search(r"^  io-bound +- +- +interrupted: no conclusion$", err, re.M) is None, err)


@case
def case_compare_io_failure_is_an_error():
    """A run of the io-bound row that fails (here: out of descriptors, the
    hard limit lowered to 40) ends compare with that error on one line and
    exit 1, not with the Ctrl-C message of an interrupted comparison."""
    if os.environ.get("CORUN_E2E_SANITIZER"):
        return  # UBSan's checks need descriptors of their own (a pipe per memory probe)
    import resource

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))

    env = dict(os.environ)
    for k in ("GOMAXPROCS", "NO_COLOR", "SPDLOG_LEVEL"):
        env.pop(k, None)
    p = subprocess.run([DEMO, "compare", "--procs", "1", "--runs", "1", "--sleepers", "2",
                        "--work", "100k", "--connections", "50", "--requests", "1"],
                       capture_output=True, text=True, env=env, timeout=TIMEOUT,
                       preexec_fn=low_limit)
    check(p.returncode == 1, f"exit {p.returncode}\n{p.stdout}\n{p.stderr}")
    errors = [l for l in p.stderr.splitlines() if l.startswith("demo: ")]
    check(len(errors) == 1 and p.stderr.splitlines()[-1] == errors[0], p.stderr)
    check(re.search(r"^demo: (compare: )?io-bound on coroutines, procs=1: .*"
                    r"(Too many open files|descriptors)", errors[0]), p.stderr)
    check("Interrupted" not in p.stdout + p.stderr, p.stdout + p.stderr)


@case
def case_compare_io_bad_options():
    for args, pattern in [
            (["--connections", "0"], r'--connections: expected an integer 1\.\.1000, got "0"'),
            (["--requests", "x"], r'--requests: expected an integer 1\.\.10000, got "x"'),
            (["--backend", "2s"], r'--backend: .*'),
            (["--backend", "soon"], r'--backend: expected a duration')]:
        rc, out, err = run("compare", *args)
        check(rc == 2 and out == "" and len(err.strip().splitlines()) == 1 and
              re.search(pattern, err), f"{args}: exit {rc}\n{err}")


# ---------------------------------------------------------------------------
# Help, version, colour, logging


@case
def case_help_and_version():
    out, _ = run_ok("--help")
    for word in ("concurrent", "parallel", "compare", "Examples:", "Exit codes: 0 ok, 1",
                 "130 interrupted"):
        check(word in out, f"--help lacks {word!r}")
    for sub in ("concurrent", "parallel", "compare"):
        out, _ = run_ok(sub, "--help")
        check("Examples:" in out and f"demo {sub}" in out, f"{sub} --help:\n{out}")
        for opt in ("--procs", "--format", "--timeline", "--trace"):
            check(opt in out, f"{sub} --help lacks {opt}")
        if sub != "concurrent":
            check("--timeslice" in out and "DURATION|off" in out, f"{sub} --help:\n{out}")
    out, _ = run_ok("--version")
    check(re.fullmatch(r"demo \d+\.\d+\.\d+\n", out), out)


def run_on_terminal(*args, env=None):
    """Runs demo with stdout on a pseudo-terminal; returns what it wrote."""
    full_env = dict(os.environ)
    full_env.pop("NO_COLOR", None)
    full_env.update(env or {})
    master, slave = pty.openpty()
    p = subprocess.Popen([DEMO, *args], stdout=slave, stderr=subprocess.PIPE, env=full_env)
    os.close(slave)
    data = read_terminal(master)
    p.wait(timeout=TIMEOUT)
    check(p.returncode == 0, f"exit {p.returncode}")
    return data.decode()


@case
def case_color_only_on_a_terminal():
    args = ("concurrent", "--interval", "1ms", "--timeline")
    check("\x1b[" in run_on_terminal(*args), "no colour on a terminal")
    check("\x1b[" not in run_on_terminal(*args, env={"NO_COLOR": "1"}), "colour with NO_COLOR")
    check("\x1b[" not in run_on_terminal(*args, "--no-color"), "colour with --no-color")
    out, err = run_ok(*args)
    check("\x1b[" not in out + err, "colour on a pipe")


@case
def case_quiet_and_verbose():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "t.json")
        _, err = run_ok("concurrent", "--interval", "1ms", "--format", "json", "-q",
                        "--trace", path)
        check(err == "", f"-q: stderr not empty:\n{err}")
        _, err = run_ok("concurrent", "--interval", "1ms", "--trace", path)
        check("demo: info: trace written to" in err, err)
        _, err = run_ok("concurrent", "--interval", "1ms", "--trace", path,
                        env={"SPDLOG_LEVEL": "warn"})
        check("trace written" not in err, f"SPDLOG_LEVEL=warn ignored:\n{err}")


def main(argv):
    global DEMO
    if argv[1:] == ["--list"]:
        print("\n".join(CASES))
        return 0
    if len(argv) < 4 or argv[1] != "--demo":
        print(__doc__, file=sys.stderr)
        return 2
    DEMO = os.path.abspath(argv[2])
    names = list(CASES) if argv[3:] == ["all"] else argv[3:]
    failed = 0
    for name in names:
        if name not in CASES:
            print(f"unknown case {name}", file=sys.stderr)
            return 2
        start = time.monotonic()
        try:
            CASES[name]()
            print(f"ok   {name} ({time.monotonic() - start:.1f} s)")
        except (Failure, AssertionError, KeyError, ValueError, TypeError,
                subprocess.TimeoutExpired) as e:
            failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
