"""servelab: what learners and instructors import and run (CLI, bench, catalog, grading helpers)."""

__version__ = "0.1.0"
