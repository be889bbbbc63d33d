"""lab01_retry_replay: recorded answers replayed on a fake clock, as lab 01 grades them."""

from __future__ import annotations

import json

import openai
import pytest

from servelab.labs.lab01_retry_replay import (
    MAX_REPLAY_ATTEMPTS,
    Answer,
    FakeClock,
    Recording,
    load_recording,
    replay,
    status_error,
)

OK_BODY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 0,
    "model": "m",
    "choices": [
        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}


def ra(seconds: int) -> Answer:
    return Answer(429, {"retry-after": str(seconds)}, {"error": {"message": "slow down"}})


def honouring(send, sleep, max_attempts=5):
    for attempt in range(max_attempts):
        try:
            return send()
        except openai.APIStatusError as e:
            if not (e.status_code == 429 or e.status_code >= 500) or attempt == max_attempts - 1:
                raise
            h = e.response.headers.get("retry-after")
            sleep(float(h) if h is not None else min(8.0, 0.5 * 2**attempt))


def test_every_shipped_recording_loads_and_says_where_it_came_from():
    for name in ["storm", "outage", "mixed", "long_storm", "bad_key", "tpm"]:
        rec = load_recording(name)
        assert rec.answers and "stand-in" in rec.meta["source"] and rec.meta["date"]
        assert len(rec.table()) == len(rec.answers)
    with pytest.raises(FileNotFoundError, match="available"):
        load_recording("nope")


def test_a_policy_that_honours_retry_after_meets_every_recording_as_expected():
    expected = {
        "storm": ("ok", [2.0, 2.0, 2.0]),
        "outage": ("ok", [0.5, 1.0]),
        "mixed": ("ok", [0.5, 3.0]),
        "long_storm": ("RateLimitError", [1.0] * 4),
        "bad_key": ("AuthenticationError", []),
        "tpm": ("ok", [3.0]),
    }
    for name, (outcome, sleeps) in expected.items():
        r = replay(honouring, name)
        assert (r.outcome, r.sleeps, r.premature) == (outcome, sleeps, 0), name


def test_errors_are_the_sdks_own_classes_with_the_recorded_headers():
    e = status_error(ra(7))
    assert isinstance(e, openai.RateLimitError) and e.response.headers["retry-after"] == "7"
    assert e.status_code == 429 and e.body == {"message": "slow down"}
    assert isinstance(status_error(Answer(503, {}, {})), openai.InternalServerError)
    assert isinstance(status_error(Answer(401, {}, {})), openai.AuthenticationError)
    for status, cls in [
        (400, "BadRequestError"),
        (403, "PermissionDeniedError"),
        (404, "NotFoundError"),
        (422, "UnprocessableEntityError"),
    ]:
        error = status_error(Answer(status, {}, {}))
        assert type(error).__name__ == cls and isinstance(error, getattr(openai, cls))
    odd = status_error(Answer(418, {}, {}))
    assert isinstance(odd, openai.APIStatusError) and odd.status_code == 418


def test_errors_are_recreated_from_their_plain_args_as_the_grader_channel_does():
    """The kernel re-creates an error a grader-side ``send`` raised as ``cls(*args)``."""
    original = status_error(
        Answer(
            429,
            {"retry-after": "3", "x-ratelimit-remaining-requests": "0"},
            {"error": {"message": "slow", "code": "rate_limit_exceeded"}},
        )
    )
    assert all(type(a) in (int, str) for a in original.args)
    again = type(original)(*original.args)
    assert isinstance(again, openai.RateLimitError) and again.status_code == 429
    assert dict(again.response.headers) == dict(original.response.headers)
    assert again.code == "rate_limit_exceeded" and str(again) == str(original)


def test_a_replayed_completion_reads_like_the_sdks_and_crosses_as_data():
    from servelab.grading import wire
    from servelab.labs.lab01_retry_replay import ReplayedCompletion

    done = ReplayedCompletion(json.dumps(OK_BODY))
    assert done.choices[0].message.content == "hi" and done.usage.total_tokens == 2
    assert wire.from_plain(wire.loads(wire.dumps(wire.to_plain(done)))) == done
    with pytest.raises(AttributeError):
        done._private  # noqa: B018 - attribute access is the test


def test_an_early_retry_is_refused_and_does_not_advance_the_recording():
    rec = Recording("t", (ra(2), Answer(200, {}, OK_BODY)))

    def impatient(send, sleep):
        for _ in range(4):
            try:
                return send()
            except openai.RateLimitError:
                sleep(0.5)

    r = replay(impatient, rec)
    # t=0 429 (RA 2); t=0.5, 1.0, 1.5 refused early; the 200 is never reached
    assert [row["premature"] for row in r.log] == [False, True, True, True]
    assert r.premature == 3 and r.outcome.startswith("returned NoneType")
    early = r.log[1]
    assert early["status"] == 429 and early["retry_after"] == "2"  # ceil(1.5)


def test_past_the_end_the_last_answer_repeats_and_runaway_policies_are_stopped():
    rec = Recording("t", (Answer(500, {}, {}),))

    def forever(send, sleep):
        while True:
            try:
                return send()
            except Exception:
                sleep(0)

    r = replay(forever, rec)
    assert r.outcome == "ran away" and r.attempts == MAX_REPLAY_ATTEMPTS

    def swallows_everything(send, sleep):  # catches the refusal at send AND at sleep
        for _ in range(10 * MAX_REPLAY_ATTEMPTS):
            try:
                return send()
            except Exception:
                try:
                    sleep(0)
                except Exception:
                    pass
        return None

    r = replay(swallows_everything, rec)
    assert r.outcome == "ran away" and r.attempts == MAX_REPLAY_ATTEMPTS


def test_the_fake_clock_refuses_nonsense_waits():
    clock = FakeClock()
    clock.sleep(1)
    clock.sleep(0.25)
    assert clock.now() == 1.25 and clock.sleeps == [1.0, 0.25]
    for bad in (-1, float("nan")):
        with pytest.raises(ValueError):
            clock.sleep(bad)
    with pytest.raises(TypeError):
        clock.sleep("1")


def test_a_successful_replay_returns_the_recorded_completion(tmp_path):
    path = tmp_path / "retry_x.json"
    path.write_text(
        json.dumps({"meta": {}, "answers": [{"status": 200, "headers": {}, "body": OK_BODY}]})
    )
    r = replay(honouring, load_recording("x", folder=tmp_path))
    assert r.outcome == "ok" and r.returned.choices[0].message.content == "hi"
