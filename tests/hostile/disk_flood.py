# Tries to write gigabytes to disk: RLIMIT_FSIZE and the size of the private tmpfs stop it.
import os

for i in range(4 * 2**10):  # 4 GiB in 1 MiB files, then one big file
    with open(f"junk{i}", "wb") as f:
        f.write(os.urandom(2**20))


def add(a, b):
    return a + b
