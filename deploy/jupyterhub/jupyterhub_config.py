"""JupyterHub configuration of the servelab course server (docs/course-server.md).

    sudo SERVELAB_HUB_INSTRUCTORS=ada SERVELAB_HUB_COURSE_ROOT=/srv/servelab \
        .venv/bin/jupyterhub -f deploy/jupyterhub/jupyterhub_config.py

Everything is set in servelab/course_server/hub.py from SERVELAB_HUB_* variables, so this file
stays the same on every server; put a class's own settings in those variables (a systemd
unit's Environment= lines), not here.
"""

from servelab.course_server.hub import configure

c = get_config()  # noqa: F821  (injected by traitlets when JupyterHub loads this file)
configure(c)
