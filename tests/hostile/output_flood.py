# Tries to print gigabytes: the output cap interrupts the cell, nothing past the cap is kept.
line = "x" * 2**20
for _ in range(4 * 2**10):  # 4 GiB
    print(line)


def add(a, b):
    return a + b
