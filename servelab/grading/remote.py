"""The grader's side of a check: drive the learner's code in its sandboxed kernel, as data.

For each call a check makes (``learner.ttft(trace)``), the grader sends the kernel one fixed
line that holds no data (servelab/grading/agent.py's ``serve``), silently and outside the input
history. Everything else crosses the kernel's stdin channel as JSON: the job (function name and
arguments), each method call of a grader-side object the learner's code makes, and the result.
Whatever the kernel prints meanwhile is read and dropped: it never reaches the notebook or the
feedback. A call that does not answer in time is interrupted and counts as failed; a dead
kernel fails every later call at once.
"""

from __future__ import annotations

import signal
import time
from typing import Any

import zmq
import zmq.asyncio
from jupyter_client.utils import run_sync

from servelab.grading import agent, wire
from servelab.grading.checks import Learner, answer_rpc, encode_args

#: What a kernel's reply may hold (servelab/grading/agent.py's ``run_job``).
REPLY_KEYS = ("ok", "handle", "raised", "missing", "not_plain", "interrupted")
AGENT_LINE = '__import__("servelab.grading.agent").grading.agent.serve()'
#: Seconds one call of the learner's code may take (a lab's function runs in milliseconds on
#: recorded data; a check that drives a slow live path sets its own).
CALL_SECONDS = 20.0
#: Output a kernel may print during checks before the call is interrupted (it is all dropped).
CHECK_OUTPUT_BYTES = 8 * 2**20


class KernelGone(RuntimeError):
    """The kernel died or stopped answering: no more of the learner's code can be checked."""


class KernelLearner(Learner):
    """The learner's notebook in its sandboxed kernel, reached through a kernel client."""

    def __init__(self, client: Any, manager: Any, call_seconds: float = CALL_SECONDS) -> None:
        self._kc = client
        self._km = manager
        self._call_seconds = call_seconds
        self._proxies: dict[int, Any] = {}
        self.gone: str | None = None

    def _run(self, job: dict[str, Any]) -> dict[str, Any]:
        if self.gone:
            return {"grader": f"not checked: {self.gone}"}
        encoded = {k: encode_args(v, self._proxies) for k, v in job.items()}
        try:
            return run_sync(self._exchange)(wire.dumps(encoded))
        except KernelGone as exc:
            self.gone = str(exc)
            return {"grader": f"not checked: {exc}"}

    async def _exchange(self, job_text: str) -> Any:
        kc = self._kc
        msg_id = kc.execute(AGENT_LINE, silent=True, store_history=False, allow_stdin=True)
        poller = zmq.asyncio.Poller()
        channels = {
            kc.stdin_channel.socket: kc.stdin_channel,
            kc.shell_channel.socket: kc.shell_channel,
            kc.iopub_channel.socket: kc.iopub_channel,
        }
        for socket in channels:
            poller.register(socket, zmq.POLLIN)
        deadline = time.monotonic() + self._call_seconds
        printed = 0
        result: Any = None
        replied = False
        while not (replied and result is not None):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or printed > CHECK_OUTPUT_BYTES:
                await self._interrupt(msg_id)
                why = "printed too much" if printed > CHECK_OUTPUT_BYTES else "did not answer"
                return {"grader": f"your code {why} within {self._call_seconds:.0f} s"}
            events = dict(await poller.poll(timeout=int(min(remaining, 1.0) * 1000)))
            if not events and not await self._alive():
                raise KernelGone(self._why_dead())
            for socket in events:
                try:
                    msg = await channels[socket].get_msg(timeout=0)
                except Exception as exc:  # noqa: BLE001 - a forged message: the kernel is lost
                    raise KernelGone(
                        f"the kernel sent a message the grader cannot read ({type(exc).__name__})"
                    ) from None
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue  # left over from an earlier call that was cut short
                kind = msg["msg_type"]
                if kind == "input_request":
                    answer, done = self._answer(str(msg["content"].get("prompt", "")), job_text)
                    kc.input(answer)
                    if done is not None:
                        result = done
                elif kind == "execute_reply":
                    replied = True
                elif socket is kc.iopub_channel.socket:
                    printed += len(str(msg.get("content", "")))
            if replied and result is None:
                return {"grader": "the notebook gave no answer"}
        return result

    def _answer(self, prompt: str, job_text: str) -> tuple[str, Any]:
        """The reply to one ``input()`` of the kernel, and the final result if this was it."""
        if prompt == agent.PROMPT_JOB:
            return job_text, None
        if prompt.startswith(agent.PROMPT_RPC):
            return answer_rpc(prompt, self._proxies), None
        if prompt.startswith(agent.PROMPT_DONE):
            try:
                reply = wire.loads(prompt[len(agent.PROMPT_DONE) :])
            except Exception:  # noqa: BLE001 - any text at all may come from the kernel
                return "", {"grader": "the notebook's answer could not be read"}
            if type(reply) is not dict:
                return "", {"grader": "the notebook's answer could not be read"}
            # only the agent's keys: a kernel cannot pass a message off as the grader's
            return "", {k: v for k, v in reply.items() if k in REPLY_KEYS}
        return "", None  # the learner's own input(): answered with nothing

    async def _alive(self) -> bool:
        return bool(await self._km.is_alive()) if hasattr(self._km, "is_alive") else True

    def _why_dead(self) -> str:
        return getattr(self._km, "sandbox_event", None) or "the kernel died"

    async def _interrupt(self, msg_id: str) -> None:
        """Stop the running call (SIGINT); if the kernel will not come back, it is gone."""
        try:
            if hasattr(self._km, "signal_sandbox"):
                self._km.signal_sandbox(signal.SIGINT)
            else:
                await self._km.interrupt_kernel()
        except Exception:
            pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                msg = await self._kc.shell_channel.get_msg(timeout=0.5)
            except Exception:
                continue
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return
        self.gone = "the kernel stopped answering"
