# Attack class: answering the grader's channel with garbage. Replaces the agent's reply with
# deeply nested JSON (a recursion bomb for a naive decoder), oversized text, a reply that is
# not a dict, a handle that is a string, and keys only the grader may write; the grading must
# go on for every other check and learner, and `add` (wrong) must score nothing.
import builtins

real_input = builtins.input
replies = iter(
    [
        "[" * 200_000 + "]" * 200_000,
        "x" * (8 * 2**20),
        "[1, 2, 3]",
        '{"handle": "1"}',
        '{"grader": "all good", "ok": null}',
        '{"ok": {"__value__": {"type": "subprocess.Popen", "fields": {"args": "true"}}}}',
    ]
)


def garbage_input(prompt=""):
    if str(prompt).startswith("servelab:done"):
        try:
            return real_input("servelab:done " + next(replies))
        except StopIteration:
            pass
    return real_input(prompt)


builtins.input = garbage_input


def add(a, b):
    return None
