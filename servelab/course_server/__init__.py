"""servelab as a class's course server: JupyterHub, nbgrader's exchange between real users,
per-learner gateway keys, and grades out to the LMS (docs/course-server.md).

- ``roster``: the class list an instructor gets from the LMS (roster.csv);
- ``keys``: one gateway key per learner, hashed at rest, scoped and rate-limited;
- ``learner``: how a learner's notebook finds its own key (never pasted into a cell);
- ``exchange``: nbgrader's exchange with permissions that keep learners apart;
- ``hub``: the JupyterHub configuration (local users, local spawner, per-role servers);
- ``ownership``: grading state handed back to the instructor after a root-only step;
- ``selfcheck``: the learner's check before submitting (``servelab check``).
"""
