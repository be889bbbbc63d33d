# Attack class: markup and script injection into the feedback page. Sends every kind of
# output a browser could run or load: HTML with <script>, event handlers and javascript:
# links, JavaScript and SVG outputs, markdown with raw HTML, image metadata that nbconvert
# writes into an unquoted attribute, a stream whose *name* is markup (sent straight on the
# kernel's iopub socket), an exception whose name and message are markup, and ANSI / OSC 8
# escapes. The reflection answer carries markup too. Every payload names the run's CANARY
# (written where the @ is): none may be live in the feedback page (inside a script, an
# attribute or a link).
import base64

from IPython.display import HTML, SVG, Javascript, Markdown, display

CANARY = "{CANARY}"


def payload(text):
    return text.replace("@", CANARY)


ip = get_ipython()  # noqa: F821
display(HTML(payload('<script>window.@=1</script><img src=x onerror="@()">')))
display(HTML(payload('<a href="javascript:@()">click</a><iframe srcdoc="<script>@</script>">')))
display(Javascript(payload("window.@ = 2")))
display(
    SVG(payload('<svg xmlns="http://www.w3.org/2000/svg" onload="@()"><script>@</script></svg>'))
)
display(Markdown(payload("<script>@</script> [x](javascript:@())")))
png = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()
display(
    {"image/png": png, "text/plain": "img"},
    metadata={"image/png": {"width": payload("1 onerror=@()")}},
    raw=True,
)
display(
    {
        "text/html": payload("<style>body{background:url(javascript:@)}</style>"),
        "application/x-evil": CANARY,
    },
    raw=True,
)
ip.kernel.session.send(
    ip.kernel.iopub_socket,
    "stream",
    {"name": payload('stdout" onmouseover="@()'), "text": "named stream\n"},
    parent=ip.kernel.get_parent(),
    ident=ip.kernel._topic("stream"),
)
print(payload("\x1b]8;;javascript:@()\x1b\\link\x1b]8;;\x1b\\ </pre><script>@</script>"))
try:
    raise type(payload("<script>@</script>"), (Exception,), {})(payload("<img src=x onerror=@()>"))
except Exception:
    ip.showtraceback()


def add(a, b):
    return payload("<script>@</script>")
