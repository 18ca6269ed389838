# heapmark attach's injector: gdb runs it attached to the target,
#   gdb -nx -batch -p PID -x heapmark_attach.py
# with every thread of the target stopped (gdb's all-stop attach).
#
# 1. Bring every thread out of the allocator and the dynamic loader. A thread
#    is inside when a frame of its stack is an allocator function of the C
#    library (malloc, free, _int_*, arena and tcache code, trim, fork), or any
#    code of an allocator library (HEAPMARK_ATTACH_LIBS) or of ld.so. Such a
#    thread may hold a lock the helper's calls would wait for, or be halfway
#    through changing a free list the walk reads. It is run alone (scheduler
#    locking) to a breakpoint at the return address of its outermost allocator
#    frame; a thread that never returns (an allocator's own thread) gets a
#    short slice and is looked at again. A thread parked in a condition wait
#    (jemalloc's background thread sleeping) holds no lock and stays. Threads
#    asleep in futex(2) (waiting for a lock) go after the others, which may
#    hold it; each run is bounded by a timer that interrupts it (a waiter whose
#    lock another stopped thread holds gets its turn again after that one ran).
# 2. With every thread outside and only the calling thread allowed to run,
#    call dlopen(helper), dlsym(handle, "heapmark_attach_run") and that
#    function; the strings are written below the calling thread's stack
#    pointer, so gdb allocates nothing in the target. A signal inside a call
#    unwinds it (unwindonsignal) and the process goes on as before.
# 3. Detach. Nothing else changes: the helper stays loaded and inert.
#
# Input (environment): HEAPMARK_ATTACH_HELPER (library path),
# HEAPMARK_ATTACH_OUT (the file heapmark created for the result),
# HEAPMARK_ATTACH_ACTION (snapshot, accounting or release),
# HEAPMARK_ATTACH_LIBS (':'-separated allocator libraries),
# HEAPMARK_ATTACH_DEADLINE_MS (how long step 1 may take).
# Output: one line "heapmark-attach: {json}" saying what happened (for a
# release, "rss_in_stop": the resident bytes just before and after the calls).
import json
import os
import signal
import threading
import time

import gdb

RTLD_NOW = 2
LIBC_ALLOCATOR = ("alloc", "free", "memalign", "_int_", "arena", "tcache", "trim", "chunk", "mallinfo", "mallopt", "fork",
                  "heap")
PARKED = ("pthread_cond_wait", "pthread_cond_timedwait", "pthread_cond_clockwait", "__pthread_cond_wait_common")

started = time.monotonic()
result = {"ok": False, "passes": 0, "stepped": 0, "sliced": 0, "interrupted": 0, "busy_first": []}


def finish(**fields):
    result.update(fields)
    result["script_ms"] = round((time.monotonic() - started) * 1000, 3)
    print("heapmark-attach: " + json.dumps(result), flush=True)


def resident_bytes():
    """The process's resident total, page by page (smaps_rollup's Rss), read while it is stopped."""
    try:
        with open("/proc/%d/smaps_rollup" % gdb.selected_inferior().pid) as f:
            for line in f:
                if line.startswith("Rss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def real(path):
    try:
        return os.path.realpath(path)
    except OSError:
        return path


allocator_libs = {real(p) for p in os.environ.get("HEAPMARK_ATTACH_LIBS", "").split(":") if p}
helper = os.environ["HEAPMARK_ATTACH_HELPER"]
allocator_libs.add(real(helper))


def in_c_library(solib):
    return solib is not None and "/libc.so" in solib


def frames(thread):
    thread.switch()
    out = []
    f = gdb.newest_frame()
    while f is not None and len(out) < 256:
        try:
            name = f.name() or ""
        except gdb.error:
            name = ""
        out.append((f, name, gdb.solib_name(f.pc())))
        try:
            f = f.older()
        except gdb.error:
            break
    return out


def allocator_frame(name, solib):
    if solib is not None and ("/ld-linux" in solib or real(solib) in allocator_libs):
        return True
    low = name.lower()
    return in_c_library(solib) and any(w in low for w in LIBC_ALLOCATOR)


def look(thread):
    """None when the thread is outside; else (description, return pc or None)."""
    chain = frames(thread)
    # Parked: its innermost C-library frames wait on a condition (the mutex is released while waiting).
    for f, name, solib in chain:
        if not in_c_library(solib):
            break
        if any(p in name for p in PARKED):
            return None
    outermost = None
    for i, (f, name, solib) in enumerate(chain):
        if allocator_frame(name, solib):
            outermost = i
    if outermost is None:
        return None
    f, name, solib = chain[outermost]
    where = "%s in %s" % (name or hex(f.pc()), os.path.basename(solib or "the executable"))
    caller = chain[outermost + 1][0] if outermost + 1 < len(chain) else None
    return (where, caller.pc() if caller is not None else None)


def run_alone(thread, seconds, return_pc):
    """Runs one thread (scheduler locking) to return_pc or for `seconds`."""
    bp = None
    if return_pc is not None:
        bp = gdb.Breakpoint("*0x%x" % return_pc, internal=True, temporary=True)
        bp.thread = thread.global_num
    fired = threading.Event()

    def interrupt():
        fired.set()
        os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C: gdb stops the running thread

    timer = threading.Timer(seconds, interrupt)
    thread.switch()
    timer.start()
    landed = False
    try:
        gdb.execute("continue", to_string=True)
    except (gdb.error, KeyboardInterrupt):  # the timer's SIGINT: gdb stopped the thread where it was
        landed = True
    finally:
        timer.cancel()
        result["interrupted"] += fired.is_set()
        if fired.is_set() and not landed:
            absorb_late_interrupt()
        if bp is not None and bp.is_valid():
            bp.delete()


def absorb_late_interrupt():
    """A SIGINT from run_alone's timer that came as the thread stopped by itself may still be on its way: it must
    land here, not in a later command (a fresh-clone run lost one attach in 200 to a KeyboardInterrupt there,
    after 10 ms of waiting). Either gdb used it to stop the thread and nothing comes, or it comes within moments:
    up to 200 ms, in 10 ms steps, each a harmless command for it to interrupt."""
    for _ in range(20):
        try:
            time.sleep(0.01)
            gdb.execute("echo", to_string=True)
        except (gdb.error, KeyboardInterrupt):
            return


def waiting_on_futex(thread):
    """The thread sleeps in futex(2): waiting for a lock (or a condition) another thread holds."""
    try:
        with open("/proc/%d/task/%d/syscall" % (gdb.selected_inferior().pid, thread.ptid[1])) as f:
            return f.read().split()[0] == "202"  # __NR_futex on x86-64
    except (OSError, IndexError):
        return False


def quiesce(deadline):
    while True:
        result["passes"] += 1
        busy = []
        for t in gdb.selected_inferior().threads():
            if t.is_valid():
                state = look(t)
                if state is not None:
                    busy.append((t, state))
        if result["passes"] == 1:
            result["busy_first"] = ["thread %d: %s" % (t.num, s[0]) for t, s in busy]
        if not busy:
            return None
        if time.monotonic() > deadline:
            return "; ".join("thread %d: %s" % (t.num, s[0]) for t, s in busy)
        # Lock holders first: a thread asleep on a futex waits for one of them, and leaves once they have.
        busy.sort(key=lambda b: waiting_on_futex(b[0]))
        for t, (where, return_pc) in busy:
            if not t.is_valid():
                continue
            if return_pc is not None:
                result["stepped"] += 1
                run_alone(t, 0.05, return_pc)
            else:
                result["sliced"] += 1
                run_alone(t, 0.02, None)


def read_maps():
    maps = []
    with open("/proc/%d/maps" % gdb.selected_inferior().pid) as f:
        for line in f:
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            maps.append((lo, hi, line.split()[1]))
    return maps


def stack_room(thread, maps):
    """(sp, base) when the thread's stack has 8 KiB mapped below its stack pointer, else None."""
    thread.switch()
    sp = int(gdb.parse_and_eval("$sp")) & (2**64 - 1)
    base = (sp - 8192) & ~0xF
    if any(lo <= base and sp <= hi and perms.startswith("rw") for lo, hi, perms in maps):
        return sp, base
    return None


def call(expr):
    return gdb.parse_and_eval(expr)


def with_strings(thread, room, strings, body):
    """Writes the strings below the thread's stack pointer, moves it below them, runs body(addresses), restores both."""
    sp, base = room
    addrs, blob = [], b""
    for s in strings:
        addrs.append(base + 256 + len(blob))
        blob += s.encode() + b"\0"
    if 256 + len(blob) > 8192 - 512:
        raise ValueError("paths too long for the call's arguments")
    inferior = gdb.selected_inferior()
    thread.switch()
    saved = inferior.read_memory(base, 256 + len(blob))
    inferior.write_memory(base + 256, blob)
    gdb.execute("set $sp = %d" % base)
    try:
        return body(addrs)
    finally:
        gdb.execute("set $sp = %d" % sp)
        inferior.write_memory(base, saved)


def inject():
    gdb.execute("set pagination off")
    gdb.execute("set confirm off")
    gdb.execute("set unwindonsignal on")
    gdb.execute("set scheduler-locking on")
    deadline = time.monotonic() + float(os.environ.get("HEAPMARK_ATTACH_DEADLINE_MS", "5000")) / 1000
    stuck = quiesce(deadline)
    result["quiesce_ms"] = round((time.monotonic() - started) * 1000, 3)
    if stuck:
        return finish(error="threads stayed inside the allocator or the dynamic loader: " + stuck)
    maps = read_maps()
    threads = sorted(gdb.selected_inferior().threads(), key=lambda t: t.num)
    rooms = [(t, stack_room(t, maps)) for t in threads]
    rooms = [(t, r) for t, r in rooms if r is not None]
    if not rooms:
        return finish(error="no thread has room on its stack for the call's arguments")
    thread, room = rooms[0]
    result["thread"] = thread.num
    thread.switch()
    dlopen = None
    for name in ("dlopen", "__libc_dlopen_mode"):
        try:
            call("(long)&%s" % name)
            dlopen = name
            break
        except gdb.error:
            pass
    if dlopen is None:
        return finish(error="the process has no dlopen (a static binary?): the helper cannot be loaded")
    action, out = os.environ["HEAPMARK_ATTACH_ACTION"], os.environ["HEAPMARK_ATTACH_OUT"]
    inferior = gdb.selected_inferior()
    t0 = time.monotonic()

    def load_and_run(addrs):
        handle = int(call("((void*(*)(const char*, int))%s)(%d, %d)" % (dlopen, addrs[0], RTLD_NOW)))
        if handle == 0:
            why = ""
            try:
                msg = int(call("((char*(*)(void))dlerror)()"))
                why = inferior.read_memory(msg, 256).tobytes().split(b"\0")[0].decode(errors="replace") if msg else ""
            except gdb.error:
                pass
            return None, "dlopen of the helper failed in the process: " + (why or "no reason given")
        fn = int(call("((void*(*)(void*, const char*))dlsym)(%d, %d)" % (handle, addrs[1])))
        if fn == 0:
            return None, "the helper has no heapmark_attach_run"
        rc = int(call("((int(*)(const char*, const char*))%d)(%d, %d)" % (fn, addrs[2], addrs[3])))
        return fn, None if rc == 0 else "the helper could not write its result to " + out

    # Resident bytes around a release, read in this stop: nothing but the calls runs between the two readings
    # (a background thread's purge between an outside reading and the stop would count as the hook's return).
    rss_before = resident_bytes() if action == "release" else None
    try:
        fn, error = with_strings(thread, room, [helper, "heapmark_attach_run", action, out], load_and_run)
        result["call_ms"] = round((time.monotonic() - t0) * 1000, 3)
        if error:
            return finish(error=error)
        if action == "release":
            # A hook that acts on the calling thread's cache or heap runs in every thread.
            with open(out) as f:
                per_thread = json.load(f).get("release_per_thread", False)
            if per_thread:
                done = 0
                for t, r in rooms[1:]:
                    rc = with_strings(t, r, ["release-thread", ""],
                                      lambda a: int(call("((int(*)(const char*, const char*))%d)(%d, %d)" % (fn, a[0], a[1]))))
                    done += rc == 0
                result["threads_released"] = done + 1
            rss_after = resident_bytes()
            if rss_before is not None and rss_after is not None:
                result["rss_in_stop"] = [rss_before, rss_after]
        result["call_ms"] = round((time.monotonic() - t0) * 1000, 3)
        finish(ok=True)
    except (gdb.error, ValueError) as e:
        finish(error="a call in the process failed and was unwound: " + str(e).splitlines()[0])


try:
    inject()
except BaseException as e:  # anything unexpected still reports one line
    finish(error="gdb script: %s: %s" % (type(e).__name__, e))
finally:
    try:
        gdb.execute("set scheduler-locking off")
        gdb.execute("detach", to_string=True)
    except gdb.error:
        pass
