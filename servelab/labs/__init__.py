"""One helper module per lab, named after it (``lab03_batch`` serves lab 03), plus the models
several labs share (``costs``, ``sizing``).

A helper loads a lab's recordings, draws its plots and runs its live probes. It never holds
an exercise's answer: the checks that grade an exercise live beside its solution notebook, on
the instructor's side, and are never released.
"""
