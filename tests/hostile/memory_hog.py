# Allocates (and touches) memory until something stops it: RLIMIT_AS raises MemoryError.
hog = []
while True:
    hog.append(bytearray(64 * 2**20))


def add(a, b):
    return a + b
