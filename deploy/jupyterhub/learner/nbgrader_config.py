"""nbgrader configuration of a learner's server on the course server (docs/course-server.md).

JupyterHub points JUPYTER_CONFIG_PATH here for learners: the course they fetch from and submit
to, and the exchange step that keeps their submission private (readable by them and the
instructor's group only). The instructor's server reads grading/nbgrader_config.py instead.
"""

import os

c = get_config()  # noqa: F821  (injected by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = os.environ.get("SERVELAB_COURSE_ID", "servelab")
c.Exchange.root = os.environ.get("SERVELAB_EXCHANGE_DIR", "/srv/nbgrader/exchange")
c.ExchangeFactory.submit = "servelab.course_server.exchange.PrivateSubmit"
