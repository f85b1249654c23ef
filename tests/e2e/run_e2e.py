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
import os
import pty
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time

DEMO = None
TIMEOUT = 90
CASES = {}
MASK = (1 << 64) - 1
# WORKLOADS.md: cpu with n = 400,000,000 split over 2 tasks.
KNOWN_CHECKSUM_2X200M = 5585640942491931907
# The sums of tasks 0 and 1 after 50,000,000 iterations (too slow for
# task_sum(); computed once with a C version of the loop).
KNOWN_SUMS_50M = (15849196909631456416, 2660599927758295463)


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
    """WORKLOADS.md's xorshift loop for task `index` (seed index + 1)."""
    x = (index + 1) | 1
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
    out, _ = run_ok("concurrent", "--procs", "1", "--interval", "100ms")
    steps = [STEP_LINE.match(line) for line in out.splitlines()]
    steps = [m for m in steps if m]
    check(len(steps) == 6, f"expected 6 step lines, got {len(steps)}:\n{out}")
    check({(m.group(3), m.group(4)) for m in steps} ==
          {(t, str(s)) for t in ("Task A", "Task B") for s in (1, 2, 3)},
          f"not every step of Task A and Task B:\n{out}")
    check(all(m.group(1) == "0" for m in steps), f"--procs 1: every step on P0:\n{out}")
    check("All tasks done." in out, out)
    check(re.search(r"2 tasks slept 600 ms in total; wall time \d+ ms on 1 worker: "
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
    check(doc["slept_ms"] == 400, doc["slept_ms"])
    # Concurrency: 400 ms of sleeps in about 100 ms on one worker. Run one
    # after the other they would take 400 ms: anything well below proves the
    # overlap (bounds generous for sanitizer builds on a loaded machine).
    check(100 <= doc["wall_ms"] < 0.8 * doc["slept_ms"], f"wall_ms {doc['wall_ms']}")
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
    check(out.splitlines()[0] == "t_ms,worker,coroutine,task,step,value", out)
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
    check(all(4 <= s <= 24 for s in a), a)


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
        check(r["checksum"] == expected, f"task {r['index']}: {r['checksum']} != {expected}")
        check(r["iterations"] == work and r["completed"] is True, r)
        check(r["task"] == f"Task {r['index'] + 1}", r)
        check(r["worker"] in (0, 1) and r["start_worker"] in (0, 1), r)
        check(0 <= r["start_ms"] <= r["finish_ms"] <= doc["wall_ms"] + 0.01, r)
        check(r["cpu_ms"] > 0, r)
        total = (total + expected) & MASK
    check(doc["checksum"] == total, f"{doc['checksum']} != {total}")
    finish = [r["finish_ms"] for r in results]
    check(finish == sorted(finish), "results are not in finishing order")
    for key in ("wall_ms", "cpu_ms", "user_ms", "sys_ms", "task_cpu_ms", "speedup"):
        check(isinstance(doc[key], (int, float)) and doc[key] >= 0, f"{key}: {doc[key]}")
    check(doc["speedup_method"].startswith("estimate"), doc)
    check(doc["interrupted"] is False, doc)


@case
def case_parallel_known_checksum():
    doc, _ = run_json("parallel", "--procs", "2", "--tasks", "2", "--work", "200M")
    check(doc["checksum"] == KNOWN_CHECKSUM_2X200M,
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
            if e["ph"] == "X" and e["tid"] == tid]
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
    check(doc["checksum"] == expected, f"checksum {doc['checksum']} != {expected}")
    for r in doc["results"]:
        check(r["checksum"] == KNOWN_SUMS_50M[r["index"]] and r["completed"] is True, r)
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
    cells = rows[0].group(2).replace(".", "").replace("*", "")
    check(len(turns([(c,) for c in cells])) >= 3, f"no turns in P0's row:\n{out}")
    check(re.search(r"\d+ preemptions? \(a letter gives way where its time slice ran out\)",
                    out), f"the legend does not count the preemptions:\n{out}")
    check(re.search(r"^Time slice: 10 ms; tasks were preempted (once|\d+ times)", out, re.M),
          out)
    check(re.search(r"^Task CPU time: thread CPU clock", out, re.M), out)
    out, _ = run_ok(*SLICED, "--timeline", "--timeslice", "off")
    rows = [m for m in map(TIMELINE_ROW.match, out.splitlines()) if m]
    cells = rows[0].group(2).replace(".", "").replace("*", "")
    check(turns([(c,) for c in cells]) == ["1", "2"], f"off: not one after another:\n{out}")
    check("Time slice: off: no task was preempted" in out, out)


@case
def case_parallel_table():
    out, _ = run_ok("parallel", "--procs", "2", "--tasks", "2", "--work", "200k")
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
    check(out.splitlines()[0] == "task,index,coroutine,start_worker,worker,start_ms,finish_ms,"
          "cpu_ms,iterations,checksum,completed,preemptions", out)
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
                  "startup_ms_median", "rss_growth_kib_median", "rss_kib_per_task", "checksum",
                  "preemptions"]


@case
def case_compare_json():
    doc, _ = run_json(*COMPARE_SMALL)
    check(doc["command"] == "compare" and doc["procs"] == [1, 2] and doc["runs"] == 2, doc)
    check(doc["sleepers"] == 200 and doc["sleep_ms"] == 20 and doc["cpu_tasks"] == 2, doc)
    rows = doc["rows"]
    check([(r["workload"], r["runner"], r["procs"]) for r in rows] ==
          [("sleep-bound", "coroutines", 1), ("sleep-bound", "coroutines", 2),
           ("cpu-bound", "coroutines", 1), ("cpu-bound", "coroutines", 2)], rows)
    expected = (task_sum(0, 500_000) + task_sum(1, 500_000)) & MASK
    for r in rows:
        for key in COMPARE_FIELDS:
            check(key in r, f"row without {key}: {r}")
        check(r["runs"] == 2 and len(r["samples"]) == 2, r)
        check(r["wall_ms_min"] <= r["wall_ms_median"] <= r["wall_ms_max"], r)
        if r["procs"] == 1:
            check(r["speedup"] == 1 and r["efficiency"] == 1, r)
        check(r["efficiency"] == round(r["speedup"] / r["procs"], 3) or
              abs(r["efficiency"] - r["speedup"] / r["procs"]) < 0.002, r)
        if r["workload"] == "sleep-bound":
            check(r["tasks"] == 200 and r["checksum"] is None, r)
            check(r["preemptions"] is None, r)  # not traced: not counted
            # Every sleeper sleeps 20 ms and they all overlap, so the run takes far
            # less than the 4000 ms that 200 sleeps one after another would. The
            # bound leaves room for a sanitizer build, where creating a coroutine
            # costs milliseconds (ThreadSanitizer gives each one its own state).
            check(20 <= r["wall_ms_median"] < 0.75 * 200 * 20, r)
        else:
            check(r["tasks"] == 2 and r["checksum"] == expected, r)
            check(isinstance(r["preemptions"], (int, float)) and r["preemptions"] >= 0, r)
            check(all(s["preemptions"] >= 0 for s in r["samples"]), r)
    check(doc["time_slice_ms"] == 10, doc)
    check(len(doc["conclusions"]) == 2, doc["conclusions"])
    check(doc["conclusions"][0].startswith("sleep-bound:"), doc["conclusions"])
    check(doc["conclusions"][1].startswith("cpu-bound:"), doc["conclusions"])
    check(doc["interrupted"] is False and doc["peak_rss_kib"] > 0, doc)


@case
def case_compare_csv():
    rows, out, _ = run_csv(*COMPARE_SMALL)
    check(out.splitlines()[0] == ",".join(COMPARE_FIELDS), out)
    check(len(rows) == 4, out)
    check([r["procs"] for r in rows] == ["1", "2", "1", "2"], out)
    check(all(float(r["wall_ms_median"]) > 0 for r in rows), out)


@case
def case_compare_threads():
    doc, _ = run_json(*COMPARE_SMALL, "--threads", "--max-threads", "50")
    rows = doc["rows"]
    threads = [r for r in rows if r["runner"] == "threads"]
    check(len(rows) == 6 and len(threads) == 2, rows)
    sleep = next(r for r in threads if r["workload"] == "sleep-bound")
    check(sleep["tasks"] == 50 and sleep["procs"] is None and sleep["efficiency"] is None, sleep)
    check(sleep["speedup"] is not None, sleep)
    cpu = next(r for r in threads if r["workload"] == "cpu-bound")
    check(cpu["checksum"] == (task_sum(0, 500_000) + task_sum(1, 500_000)) & MASK, cpu)
    check(any(c.startswith("threads:") and "capped at 50" in c for c in doc["conclusions"]),
          doc["conclusions"])


@case
def case_compare_table():
    out, _ = run_ok(*COMPARE_SMALL)
    check(re.search(r"^workload +runner +procs +tasks +wall ms \(median, min-max\) +CPU ms +"
                    r"speedup +efficiency", out, re.M), out)
    check(len(re.findall(r"^(sleep|cpu)-bound +coroutines +[12] ", out, re.M)) == 4, out)
    check(re.search(r"^sleep-bound: ", out, re.M), out)
    check(re.search(r"^cpu-bound: ", out, re.M), out)
    check("Speedup vs procs=1" in out, out)
    check(re.search(r"^Time slice: 10 ms$", out, re.M), out)
    check(re.search(r"KiB/task +preemptions$", out, re.M), out)
    check(len(re.findall(r"procs=[12] +[#█▏▎▍▌▋▊▉]+ +\d+\.\d\dx$", out, re.M)) == 4, out)


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
    check(cpu["checksum"] == sum(KNOWN_SUMS_50M) & MASK, cpu)
    rows, out, _ = run_csv(*base, "--timeslice", "1ms")
    check(rows[0]["preemptions"] == "" and int(rows[1]["preemptions"]) > 0, out)


@case
def case_compare_adds_baseline():
    doc, _ = run_json("compare", "--procs", "2", "--runs", "1", "--sleepers", "10", "--sleep",
                      "1ms", "--work", "10k")
    check(doc["procs"] == [1, 2], doc["procs"])


# ---------------------------------------------------------------------------
# --timeline and --trace

TIMELINE_ROW = re.compile(r"^ +P(\d+) \|([^|]*)\| +\d+%$")


@case
def case_timeline_concurrent():
    out, _ = run_ok("concurrent", "--procs", "2", "--interval", "10ms", "--timeline")
    rows = [TIMELINE_ROW.match(line) for line in out.splitlines()]
    rows = [m for m in rows if m]
    check([m.group(1) for m in rows] == ["0", "1"], out)
    check(len({len(m.group(2)) for m in rows}) == 1, "rows of different widths")
    cells = "".join(m.group(2) for m in rows)
    check(set(cells) <= set("AB*."), f"unexpected symbols: {cells}")
    check(cells.count(".") > len(cells) // 2, "sleeping tasks: the workers are mostly idle")
    check("A Task A (G1)" in out and "B Task B (G2)" in out and ". idle" in out, out)


@case
def case_timeline_parallel():
    out, _ = run_ok("parallel", "--procs", "2", "--tasks", "2", "--work", "5M", "--timeline")
    rows = [m for m in map(TIMELINE_ROW.match, out.splitlines()) if m]
    check([m.group(1) for m in rows] == ["0", "1"], out)
    cells = "".join(m.group(2) for m in rows)
    check("1" in cells and "2" in cells, out)
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
             if e["ph"] == "M" and e["name"] == "thread_name"}
    check(names == {0: "P0", 1: "P1"}, names)
    check(any(e["ph"] == "M" and e["name"] == "process_name" for e in events), "no process_name")
    slices = [e for e in events if e["ph"] == "X"]
    check(slices, "no X slices")
    for e in slices:
        check(e["tid"] in (0, 1) and e["pid"] == 1, e)
        check(e["ts"] >= 0 and e["dur"] >= 0, e)
        check(e["name"] in ("Task A", "Task B"), e)
        check(e["args"]["task"] == e["name"] and e["args"]["coroutine"] in (1, 2), e)
        check(e["args"]["stop"] in ("sleep", "exit", "yield", "block", "preempt", "none"), e)
    for task in ("Task A", "Task B"):
        runs = [e for e in slices if e["name"] == task]
        # Three steps: a run before each of the 3 sleeps and the last, exit.
        check(len(runs) == 4, f"{task}: {len(runs)} slices")
        check([e["args"]["stop"] for e in runs] == ["sleep", "sleep", "sleep", "exit"], runs)


@case
def case_trace_concurrent_shares_the_zero():
    """Each printed step time lies in a run of its coroutine on its worker in
    the trace: the demo's clock starts at Runtime::trace_epoch()."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "run.json")
        doc, _ = run_json("concurrent", "--procs", "2", "--steps", "4", "--interval", "5ms",
                          "--trace", path)
        events = load_trace(path)
    slices = [e for e in events if e["ph"] == "X"]
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
                 if e["ph"] == "M" and e["name"] == "process_name"}
    check(sorted(processes.values()) ==
          sorted(["sleep-bound, procs=1", "sleep-bound, procs=2", "cpu-bound, procs=1",
                  "cpu-bound, procs=2"]), processes)
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
    (["concurrent", "--variant", "words"], {}, r'--variant: expected tasks or letters'),
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
        rc, out, err = run("concurrent", "--interval", "1s", "--trace", d)  # a directory
        check(rc == 2 and time.monotonic() - start < 0.9, f"exit {rc} after the run: {err}")
        check(out == "" and re.match(r'demo: --trace: expected a writable file path, got ".*" '
                                     r'\(a directory\)$', err.strip()), err)
        check(os.listdir(d) == [], f"left behind: {os.listdir(d)}")


# ---------------------------------------------------------------------------
# Ctrl-C: exit 130 with what finished


def interrupt_after(args, ready, delay=0.0):
    """Starts demo, waits for `ready` lines on stderr and `delay` seconds,
    sends SIGINT; returns the exit code, stdout and stderr."""
    env = dict(os.environ)
    env.pop("GOMAXPROCS", None)
    p = subprocess.Popen([DEMO, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
    seen = []
    deadline = time.monotonic() + 30
    while len(seen) < ready and time.monotonic() < deadline:
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
        check(doc["summary"].startswith("Interrupted after"), doc["summary"])
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
    rc, out, err = interrupt_after(["compare", "--runs", "100", "--sleepers", "10", "--sleep",
                                    "50ms", "--format", "csv"], ready=1, delay=0.5)
    check(rc == 130, f"exit {rc}, expected 130\n{err}")
    rows = list(csv.DictReader(io.StringIO(out)))
    check(len(rows) >= 1 and rows[0]["workload"] == "sleep-bound", out)


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
    for args in (("concurrent", "--procs", "4", "--interval", "1ms"),
                 ("bench", "yield", "--procs", "2", "--n", "1000")):
        result = run_with_thread_stacks(1 << 48, *args)
        if result is None:
            print("skipped: the hard RLIMIT_STACK is too low to test this")
            return
        rc, _, err = result
        procs = args[args.index("--procs") + 1]
        want = f"demo: cannot start worker thread 1 of {procs}: Resource temporarily unavailable\n"
        check(rc == 1 and err == want,
              f"demo {' '.join(args)} without threads: exit {rc}\nstderr:\n{err}")


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
        except (Failure, AssertionError, KeyError, ValueError, TypeError) as e:
            failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
