"""Plausible wrong answers per lab, kept to prove each autograded test discriminates.

One module per lab folder name (e.g. ``00_inference_path.py``) defining ``WRONG``: solution
cell grade_id -> {"tests": test cell grade_id, "answers": {description: wrong source}}.
tests/course/test_answers.py runs them.
"""
