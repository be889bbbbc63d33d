"""Grading an instructor can trust: nbgrader's autograde with learner code in a sandbox.

One step per module, in the order a grading run uses them (docs/instructor.md tells the story):

- ``course``: the folders and gradebook, as grading/nbgrader_config.py says;
- ``collect``: submissions from an LMS export or nbgrader's exchange into grading/submitted/;
- ``autograde``: parallel workers, each with its own gradebook copy; one process merges;
- ``execute``: nbgrader's Execute step with the kernel in the sandbox and output capped;
- ``sandbox``: the kernel manager that starts kernels under ``unshare`` (``jail`` runs inside);
- ``zygote``: the warm template each kernel is forked from (its libraries already imported);
- ``limits``: every resource limit, named; ``guard``: the in-kernel output cap;
- ``bridge``: the only network way out, to allowed loopback ports;
- ``feedback``: HTML feedback with every trace of hidden tests removed;
- ``export``: CSV per student and per question, and a plot of the class's scores.
"""
