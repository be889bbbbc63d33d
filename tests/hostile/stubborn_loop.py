# Never finishes and swallows every interrupt: only the notebook's wall-clock limit ends it.
while True:
    try:
        while True:
            pass
    except KeyboardInterrupt:
        pass


def add(a, b):
    return a + b
