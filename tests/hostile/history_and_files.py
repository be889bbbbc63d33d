# Attack class: reading what the kernel and the disk remember. Prints IPython's input and
# output history (In, Out, _ih, _oh, the history database), every notebook and Python file it
# can read around it, and registers hooks that print the history again and copy it to files
# whenever the grader runs something, hoping the hidden checks' code or inputs end up in the
# feedback. The answer is wrong: it scores nothing whatever it reads.
import glob
import os

ip = get_ipython()  # noqa: F821


def dump(*_):
    print("HISTORY", list(ip.user_ns.get("In", []))[-20:], dict(ip.user_ns.get("Out", {})))
    try:
        print(list(ip.history_manager.get_range(raw=True))[-50:])
    except Exception as exc:
        print("history db:", exc)
    try:
        with open("/tmp/loot.txt", "a") as f:
            f.write(repr(list(ip.user_ns.get("_ih", []))))
    except OSError:
        pass


for pattern in ("*.ipynb", "*.py", "/tmp/**/*", os.path.expanduser("~/**/*"), "/srv/**/*"):
    for path in glob.glob(pattern, recursive=True)[:200]:
        try:
            with open(path, errors="replace") as f:
                print(path, f.read(5000))
        except OSError:
            pass
ip.events.register("post_execute", dump)
ip.events.register("pre_execute", dump)
dump()


def add(a, b):
    dump()
    return None
