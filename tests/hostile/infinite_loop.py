# An answer cell that never finishes: the cell timeout interrupts it.
while True:
    pass


def add(a, b):
    return a + b
