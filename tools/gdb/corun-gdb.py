# corun-gdb.py: gdb commands for programs that use corun (README "Seeing
# inside a running program"). Load it with `source corun-gdb.py` (installed
# beside the library, in share/corun/gdb/), then:
#
#   corun ls        every coroutine that has blocked at least once, and those
#                   running on a worker: id, state, wait reason
#   corun bt ID     the backtrace of coroutine ID: a parked one's from the
#                   registers it saved when it switched away (the selected
#                   thread's registers are set to them for `bt`, then put
#                   back); a running one's from its worker's thread
#
# It needs no debug information: it reads the global corun_debugger_anchor
# (src/corun/diag/debugger_anchor.hpp), which gives the offsets of the few
# fields it reads, and the names of the wait reasons. `corun bt` of a parked
# coroutine sets registers, so it needs a live process (not a core file).
import struct

import gdb

_ANCHOR_VERSION = 1
# DebuggerAnchor: 18 uint32 fields, then three pointers.
_U32_FIELDS = (
    "version context_kind shard_stride shard_head co_id co_state co_wait_reason "
    "co_live_next co_ctx co_stack_base co_stack_size uc_gregs worker_index "
    "worker_current worker_g0 worker_os_thread nreasons reserved"
).split()
_STATES = {0: "runnable", 1: "running", 2: "parked", 3: "parked (being cancelled)", 4: "dead"}
_MAX_COROUTINES = 1_000_000


class CorunError(gdb.GdbError):
    pass


def _inferior():
    inf = gdb.selected_inferior()
    if inf is None or inf.pid == 0 and not gdb.selected_thread():
        raise CorunError("corun: no program is running (start it, or attach to it)")
    return inf


def _read(addr, size):
    return bytes(_inferior().read_memory(addr, size))


def _u8(addr):
    return _read(addr, 1)[0]


def _u32(addr):
    return struct.unpack("<I", _read(addr, 4))[0]


def _u64(addr):
    return struct.unpack("<Q", _read(addr, 8))[0]


def _cstr(addr, limit=64):
    raw = _read(addr, limit)
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def _anchor():
    try:
        addr = int(gdb.parse_and_eval("(unsigned long)&corun_debugger_anchor"))
    except gdb.error:
        raise CorunError("corun: this program has no corun_debugger_anchor (not linked with corun?)")
    fields = dict(zip(_U32_FIELDS, struct.unpack("<18I", _read(addr, 72))))
    fields["runtimes"] = _u64(addr + 72)
    fields["reason_names"] = _u64(addr + 80)
    if fields["runtimes"] != 0 and fields["version"] != _ANCHOR_VERSION:
        raise CorunError("corun: the program's debugger anchor is version %d, this script reads "
                         "version %d: use the script installed with its corun"
                         % (fields["version"], _ANCHOR_VERSION))
    return fields


def _reason(a, r):
    if a["reason_names"] != 0 and r < a["nreasons"]:
        return _cstr(_u64(a["reason_names"] + 8 * r))
    return "reason %d" % r


def _coroutines():
    """Yields (runtime index, coroutine address, running worker index or None)."""
    a = _anchor()
    rt = a["runtimes"]
    index = 0
    while rt != 0:
        shards, nshards = _u64(rt + 8), _u32(rt + 16)
        nworkers, workers = _u32(rt + 20), _u64(rt + 24)
        running = {}
        for i in range(nworkers):
            w = _u64(workers + 8 * i)
            cur = _u64(w + a["worker_current"])
            if cur != 0 and cur != _u64(w + a["worker_g0"]):  # g0: a pointer (the thread's)
                running[cur] = _u32(w + a["worker_index"])
        seen = set()
        for s in range(nshards):
            g = _u64(shards + s * a["shard_stride"] + a["shard_head"])
            while g != 0 and len(seen) < _MAX_COROUTINES:
                seen.add(g)
                yield a, index, g, running.get(g)
                g = _u64(g + a["co_live_next"])
        for g, worker in running.items():
            if g not in seen:  # running, never blocked: not in the registry
                yield a, index, g, worker
        rt = _u64(rt)
        index += 1


def _describe(a, g, worker):
    state = _u8(g + a["co_state"])
    if worker is not None:
        return "running on worker %d" % worker, ""
    text = _STATES.get(state, "state %d" % state)
    reason = _reason(a, _u8(g + a["co_wait_reason"])) if state in (2, 3) else ""
    return text, reason


def _find(a_id):
    for a, rt, g, worker in _coroutines():
        if _u64(g + a["co_id"]) == a_id:
            return a, g, worker
    raise CorunError("corun: no coroutine %d (corun ls lists them)" % a_id)


# Saved registers of a parked coroutine, per context back-end: a list of
# (gdb register, value) to set, from the saved stack pointer `sp`.
def _saved_registers(a, g):
    kind = a["context_kind"]
    ctx = g + a["co_ctx"]
    if kind == 1:  # context_x86_64.S: sp -> r15 r14 r13 r12 rbx rbp ret
        sp = _u64(ctx)
        names = ["r15", "r14", "r13", "r12", "rbx", "rbp"]
        regs = [(n, _u64(sp + 8 * i)) for i, n in enumerate(names)]
        return regs + [("rip", _u64(sp + 48)), ("rsp", sp + 56)]
    if kind == 2:  # context_aarch64.S: x19..x30 at sp, d8..d15 after
        sp = _u64(ctx)
        regs = [("x%d" % (19 + i), _u64(sp + 8 * i)) for i in range(12)]
        return regs + [("pc", _u64(sp + 88)), ("sp", sp + 176)]
    if kind == 3:  # ucontext_t, x86_64: gregs[REG_*] (sys/ucontext.h)
        gregs = ctx + a["uc_gregs"]
        index = {"r12": 4, "r13": 5, "r14": 6, "r15": 7, "rbp": 10, "rbx": 11, "rsp": 15,
                 "rip": 16}
        return [(n, _u64(gregs + 8 * i)) for n, i in index.items()]
    if kind == 4:  # ucontext_t, aarch64: fault_address, regs[31], sp, pc
        m = ctx + a["uc_gregs"]
        regs = [("x%d" % r, _u64(m + 8 + 8 * r)) for r in range(19, 31)]
        return regs + [("sp", _u64(m + 8 + 8 * 31)), ("pc", _u64(m + 8 + 8 * 32))]
    raise CorunError("corun: this build's context back-end is not known to the script")


class CorunCommand(gdb.Command):
    """corun ls | corun bt ID: corun's coroutines (see `help corun ls`)."""

    def __init__(self):
        super().__init__("corun", gdb.COMMAND_STACK, gdb.COMPLETE_NONE, True)


class CorunLs(gdb.Command):
    """corun ls: every coroutine that has blocked at least once, and those running:
id, state, wait reason (coroutines that have never blocked are not listed)."""

    def __init__(self):
        super().__init__("corun ls", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        n = 0
        for a, rt, g, worker in _coroutines():
            state, reason = _describe(a, g, worker)
            ident = _u64(g + a["co_id"])
            line = "%8d  %s" % (ident, state)
            if reason:
                line += " [%s]" % reason
            if rt > 0:
                line += "  (runtime %d)" % rt
            gdb.write(line + "\n")
            n += 1
        if n == 0:
            gdb.write("no coroutines (none has blocked yet, or no corun runtime is running)\n")


class CorunBt(gdb.Command):
    """corun bt ID: the backtrace of coroutine ID (see `corun ls`)."""

    def __init__(self):
        super().__init__("corun bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        try:
            ident = int(arg.split()[0], 0)
        except (IndexError, ValueError):
            raise CorunError("corun bt: expected a coroutine id (a number from corun ls), got '%s'"
                             % arg)
        a, g, worker = _find(ident)
        if worker is not None:
            self._running(a, g, worker)
            return
        state = _u8(g + a["co_state"])
        if state not in (2, 3):
            raise CorunError("corun bt: coroutine %d is %s: only parked coroutines have saved "
                             "registers" % (ident, _STATES.get(state, "in state %d" % state)))
        regs = _saved_registers(a, g)
        gdb.write("coroutine %d [%s]:\n" % (ident, _reason(a, _u8(g + a["co_wait_reason"]))))
        frame = gdb.selected_frame()
        gdb.execute("frame 0", to_string=True)
        saved = [(n, int(gdb.parse_and_eval("(unsigned long)$" + n))) for n, _ in regs]
        try:
            for n, v in regs:
                gdb.execute("set $%s = %d" % (n, v), to_string=True)
            gdb.execute("bt")
        except gdb.error as e:
            raise CorunError("corun bt: cannot switch to the coroutine's registers (%s); "
                             "a core file's registers cannot be set" % e)
        finally:
            for n, v in saved:
                try:
                    gdb.execute("set $%s = %d" % (n, v), to_string=True)
                except gdb.error:
                    pass
            try:
                frame.select()
            except gdb.error:
                pass

    def _running(self, a, g, worker):
        # Its worker's thread: the one whose pthread_t is the worker's.
        rt = a["runtimes"]
        target = None
        while rt != 0 and target is None:
            for i in range(_u32(rt + 20)):
                w = _u64(_u64(rt + 24) + 8 * i)
                if _u64(w + a["worker_current"]) == g:
                    target = _u64(w + a["worker_os_thread"])
            rt = _u64(rt)
        for t in _inferior().threads():
            handle = t.handle()
            if handle is not None and struct.unpack("<Q", bytes(handle)[:8])[0] == target:
                gdb.write("coroutine %d [running on worker %d], thread %d:\n"
                          % (_u64(g + a["co_id"]), worker, t.num))
                previous = gdb.selected_thread()
                t.switch()
                try:
                    gdb.execute("bt")
                finally:
                    previous.switch()
                return
        raise CorunError("corun bt: coroutine is running on worker %d, whose thread was not found"
                         % worker)


CorunCommand()
CorunLs()
CorunBt()

# The coroutine dump asks each worker running a coroutine for its stack with
# SIGRTMIN + 4 (src/corun/diag/running_stacks.cpp): SIG38 with glibc, whose
# SIGRTMIN is 34. Like the preemption signal (SIGURG, which gdb passes
# silently by default), it is the runtime's own business: pass it on
# without stopping.
gdb.execute("handle SIG38 nostop noprint pass", to_string=True)
