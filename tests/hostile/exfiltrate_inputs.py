# Attack class: carrying a hidden INPUT out. A hidden check must hand its input to the
# learner's function; this records every argument `mul` and `add` receive and tries every
# channel back to the learner: printed output, files in every writable place, an exception
# class named after the input (its name would show in a message), an answer that is not plain
# data and whose description quotes the input, and later answers that carry it as text (a
# visible check's message quotes a wrong answer). `add` is wrong; nothing it saw may leave.
import os

seen = []


def remember(*values):
    for value in values:
        if type(value) is str:
            seen.append(value)
    text = "|".join(seen)
    print("SEEN", text)
    for folder in ("/tmp", "/var/tmp", "/dev/shm", "/run", "/run/lock", os.getcwd()):
        try:
            with open(os.path.join(folder, "seen.txt"), "a") as f:
                f.write(text)
        except OSError:
            pass
    return text


class Quoting:
    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text


def wrap_mul(*_):
    """After each cell: wrap the notebook's `mul` so its inputs are recorded (and leaked)."""
    inner = ip.user_ns.get("mul")
    if inner is None or getattr(inner, "wrapped", False):
        return

    def mul(a, b):
        text = remember(a, b)
        if type(a) is str:
            raise type("Leak" + text.replace("|", "_")[:200], (ValueError,), {})(text)
        return inner(a, b)

    mul.wrapped = True
    ip.user_ns["mul"] = mul


ip = get_ipython()  # noqa: F821
ip.events.register("post_run_cell", wrap_mul)


def add(a, b):
    text = remember(a, b) or "nothing yet"
    if type(a) is int and a == 1:
        return text  # the visible check quotes this answer
    if type(a) is int and a < 0:
        raise type("Leak" + text.replace("|", "_")[:200] or "X", (ValueError,), {})(text)
    return Quoting(text)
