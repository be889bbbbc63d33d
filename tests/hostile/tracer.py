# Attack class: tracers. Installs sys.settrace, sys.setprofile, threading's trace and profile
# hooks and an audit hook (sys.addaudithook) that record every call, argument, return value and
# audited event of the kernel - including the grader's jobs as they arrive - then tries to
# answer from what they saw. The answer is wrong: `add` scores only if tracing revealed the
# expected values.
import sys
import threading

seen = []


def trace(frame, event, arg):
    if event in ("call", "return") and len(seen) < 10_000:
        seen.append((event, frame.f_code.co_name, repr(arg)[:200], repr(frame.f_locals)[:500]))
    return trace


def audit(event, args):
    if len(seen) < 10_000:
        seen.append(("audit", event, repr(args)[:500]))


sys.settrace(trace)
sys.setprofile(trace)
threading.settrace(trace)
threading.setprofile(trace)
sys.addaudithook(audit)


def add(a, b):
    print(seen[-200:])
    # a value some grader code computed as "expected" or "golden", if tracing saw one
    hits = [s for s in seen if s[0] == "return" and ("expected" in s[1] or "golden" in s[1])]
    return int(hits[-1][2]) if hits and hits[-1][2].lstrip("-").isdigit() else None
