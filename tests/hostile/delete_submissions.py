# Deletes the other learners' submissions and graded notebooks.
import shutil

shutil.rmtree("{SUBMITTED}/good_one")
shutil.rmtree("{AUTOGRADED}", ignore_errors=False)


def add(a, b):
    return a + b
