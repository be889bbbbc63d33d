# Attack class: output through the channels a print cap does not see. Grows one display by
# `update_display_data` messages, and a widget by comm messages carrying megabytes of state,
# far past the output caps; the graded notebook and the other learners' grading must stay
# small and on time. (`add` is right: the question is only what the grader keeps.)
import ipywidgets as widgets
from IPython.display import display

handle = display("start", display_id=True)
block = "x" * 2**20
try:
    for i in range(400):
        handle.update(block + str(i))
    box = widgets.Textarea()
    display(box)
    for i in range(400):
        box.value = block + str(i)
except KeyboardInterrupt:
    pass


def add(a, b):
    return a + b
