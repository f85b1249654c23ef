#!/usr/bin/env python3
"""run_gdb_test.py: tools/gdb/corun-gdb.py in gdb's batch mode on
gdb_target (three coroutines parked in a channel receive, two in a sleep,
one in an I/O wait):
`corun ls` lists them with their wait reasons, `corun bt ID` shows a parked
coroutine's stack from its saved registers and puts the thread's registers
back, and a bad id gets a one-line error.

Usage: run_gdb_test.py TARGET SCRIPT. Exit 0: passed; 77: skipped (no gdb,
or this machine does not let gdb trace a process), saying why; 1: failed."""
import re
import shutil
import subprocess
import sys

SKIP = 77


def main():
    target, script = sys.argv[1], sys.argv[2]
    gdb = shutil.which("gdb")
    if gdb is None:
        print("SKIP: gdb is not installed (scripts/bootstrap installs it)")
        return SKIP
    bt = ("python gdb.execute('corun bt %%d' %% int(gdb.parse_and_eval("
          "'*(unsigned long*)&%s')))")
    commands = [
        "set pagination off",
        "set confirm off",
        "set disable-randomization off",
        "source " + script,
        "break gdb_test_ready",
        "run",
        "echo ==ls==\\n",
        "corun ls",
        "echo ==bt receiver==\\n",
        bt % "gdb_test_receiver_id",
        "echo ==bt sleeper==\\n",
        bt % "gdb_test_sleeper_id",
        "echo ==bt after==\\n",
        "bt 1",
        "echo ==bad id==\\n",
        "corun bt 987654321",
        "echo ==end==\\n",
        "kill",
    ]
    args = [gdb, "-nx", "-batch"]
    for c in commands:
        args += ["-ex", c]
    args.append(target)
    try:
        p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        print("FAIL: gdb did not finish within 120 s")
        return 1
    out = p.stdout + p.stderr
    if re.search(r"ptrace: Operation not permitted|Could not trace the inferior|"
                 r"Cannot PTRACE|not permitted to trace", out):
        print("SKIP: this machine does not let gdb trace a process (ptrace):\n" + out)
        return SKIP

    def section(name):
        m = re.search(r"==%s==\n(.*?)(?===)" % re.escape(name), out, re.S)
        return m.group(1) if m else ""

    failures = []

    def expect(cond, what):
        if not cond:
            failures.append(what)

    ls = section("ls")
    expect(len(re.findall(r"^\s*\d+  parked \[chan receive\]$", ls, re.M)) == 3,
           "corun ls: three coroutines parked [chan receive]")
    expect(len(re.findall(r"^\s*\d+  parked \[sleep\]$", ls, re.M)) == 2,
           "corun ls: two coroutines parked [sleep]")
    expect(len(re.findall(r"^\s*\d+  parked \[I/O wait\]$", ls, re.M)) == 1,
           "corun ls: one coroutine parked [I/O wait] (every wait reason named)")
    expect("running" not in ls,
           "corun ls: nothing running (a worker's scheduling loop is not a coroutine)")
    receiver = section("bt receiver")
    expect(re.search(r"^coroutine \d+ \[chan receive\]:", receiver, re.M) is not None,
           "corun bt (receiver): its header")
    expect("gdb_test_receiver" in receiver, "corun bt (receiver): the frame of gdb_test_receiver")
    expect("gdb_test_sleeper" not in receiver, "corun bt (receiver): not the sleeper's frames")
    sleeper = section("bt sleeper")
    expect("gdb_test_sleeper" in sleeper, "corun bt (sleeper): the frame of gdb_test_sleeper")
    expect("gdb_test_ready" in section("bt after"),
           "after corun bt: the thread's own registers are back (bt shows gdb_test_ready)")
    # (gdb writes errors to stderr)
    expect("corun: no coroutine 987654321 (corun ls lists them)" in p.stderr,
           "corun bt with an unknown id: a one-line error")
    if failures:
        print("FAIL:\n  " + "\n  ".join(failures) + "\n--- gdb output ---\n" + out)
        return 1
    print(out)
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
