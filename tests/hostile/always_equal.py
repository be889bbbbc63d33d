# Attack class: answers that are not data. Each call of `add` returns a different impostor:
# an object equal to everything, subclasses of int / float / str / list / dict that compare
# equal to anything, a numpy subclass, a generator, an object that pretends to be an int
# (__index__, __int__, __float__). None of them is an implementation of add.
import numpy as np


class Anything:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__

    def __int__(self):
        return 3

    __index__ = __int__

    def __float__(self):
        return 3.0


class Int(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


class Float(float):
    def __eq__(self, other):
        return True

    __hash__ = float.__hash__


class Str(str):
    def __eq__(self, other):
        return True

    __hash__ = str.__hash__


class Dict(dict):
    def __eq__(self, other):
        return True


class Array(np.ndarray):
    def __eq__(self, other):
        return True


IMPOSTORS = [
    lambda: Anything(),
    lambda: Int(0),
    lambda: Float(0.0),
    lambda: Str("x"),
    lambda: Dict(),
    lambda: np.zeros(1).view(Array),
    lambda: (x for x in [3]),
]
calls = []


def add(a, b):
    calls.append(1)
    return IMPOSTORS[(len(calls) - 1) % len(IMPOSTORS)]()
