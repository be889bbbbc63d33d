# Every process forks forever: RLIMIT_NPROC of the sandbox uid stops it.
import os

while True:
    os.fork()


def add(a, b):
    return a + b
