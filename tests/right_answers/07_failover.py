"""Lab 07: other correct answers, each of which must keep full marks."""

RIGHT = {
    "ex1_solution": {
        "tests": "ex1_tests",
        "answers": {
            "numpy products": """
import numpy as np

def serial_availability(avails):
    return float(np.prod(avails))

def chain_availability(avails):
    return float(1 - np.prod(1 - np.asarray(avails, dtype=float)))

def downtime_minutes_per_month(availability):
    minutes_per_month = 30 * 24 * 60
    return minutes_per_month * (1 - availability)
""",
            "loops, and the chain through the probability that all are down": """
def serial_availability(avails):
    up = 1.0
    for a in avails:
        up *= a
    return up

def chain_availability(avails):
    all_down = 1.0
    for a in avails:
        all_down *= 1 - a
    return 1 - all_down

def downtime_minutes_per_month(availability):
    return (1 - availability) * 43200
""",
            "functools.reduce, integer minutes constant": """
from functools import reduce
from operator import mul

def serial_availability(avails):
    return reduce(mul, avails, 1)

def chain_availability(avails):
    return 1 - reduce(mul, [1 - a for a in avails], 1)

def downtime_minutes_per_month(availability):
    return 43_200 * (1 - availability)
""",
        },
    },
    "ex2_solution": {
        "tests": "ex2_tests",
        "answers": {
            "a while loop; client errors as 4xx other than 429": """
def retry_delay(attempt, retry_after=None):
    if retry_after is None:
        return min(0.5 * 2 ** (attempt - 1), 8.0)
    return retry_after

def call_with_fallback(endpoints, clock, max_attempts=3, timeout_s=2.0, max_wait_s=5.0, fallback_answer=None):
    error = None
    for endpoint in endpoints:
        attempt = 0
        while attempt < max_attempts:
            attempt += 1
            try:
                return endpoint.call(clock, timeout_s=timeout_s)
            except EndpointTimeout as e:
                error = e
                break
            except EndpointError as e:
                error = e
                if 400 <= e.status < 500 and e.status != 429:
                    raise
                if attempt >= max_attempts:
                    break
                wait = retry_delay(attempt, e.retry_after)
                if wait > max_wait_s:
                    break
                clock.sleep(wait)
    if fallback_answer is None:
        raise error
    return Answer(text=fallback_answer, served_by="cache")
""",
            "a helper per endpoint; the backoff as a power of two over four": """
RETRYABLE = frozenset({429, 500, 502, 503, 504})
CAP_S = 8

def retry_delay(attempt, retry_after=None):
    return retry_after if retry_after is not None else min(CAP_S, 2 ** attempt / 4)

def _try_endpoint(endpoint, clock, max_attempts, timeout_s, max_wait_s):
    # returns (answer, None) or (None, the error that made it give up)
    for attempt in range(1, max_attempts + 1):
        try:
            return endpoint.call(clock, timeout_s), None
        except EndpointTimeout as e:
            return None, e
        except EndpointError as e:
            if e.status not in RETRYABLE:
                raise
            if attempt < max_attempts and retry_delay(attempt, e.retry_after) <= max_wait_s:
                clock.sleep(retry_delay(attempt, e.retry_after))
                continue
            return None, e

def call_with_fallback(endpoints, clock, max_attempts=3, timeout_s=2.0, max_wait_s=5.0, fallback_answer=None):
    errors = []
    for endpoint in endpoints:
        answer, error = _try_endpoint(endpoint, clock, max_attempts, timeout_s, max_wait_s)
        if answer is not None:
            return answer
        errors.append(error)
    if fallback_answer is not None:
        return Answer(fallback_answer, "cache")
    raise errors[-1]
""",
        },
    },
    "ex3_solution": {
        "tests": "ex3_tests",
        "answers": {
            "a deadline instead of an opening time": """
class CircuitBreaker:
    def __init__(self, clock, failure_threshold=3, cooldown_s=10.0):
        self.clock = clock
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self.failures = 0
        self.open_until = None  # None: not open
        self.trial_in_flight = False

    @property
    def state(self):
        if self.open_until is None:
            return "closed"
        if self.clock.now() < self.open_until:
            return "open"
        return "half_open"

    def allow(self):
        state = self.state
        if state == "half_open" and not self.trial_in_flight:
            self.trial_in_flight = True
            return True
        return state == "closed"

    def record_success(self):
        self.failures = 0
        self.open_until = None
        self.trial_in_flight = False

    def record_failure(self):
        half_open = self.state == "half_open"
        self.failures += 1
        if half_open or self.failures >= self.failure_threshold:
            self.open_until = self.clock.now() + self.cooldown_s
            self.trial_in_flight = False
""",
            "explicit transitions, trial counted in an int": """
class CircuitBreaker:
    CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

    def __init__(self, clock, failure_threshold=3, cooldown_s=10.0):
        self.clock = clock
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self._state = self.CLOSED
        self._failures = 0
        self._opened = None
        self._trials = 0

    def _open(self):
        self._state, self._opened, self._trials = self.OPEN, self.clock.now(), 0

    @property
    def state(self):
        if self._state == self.OPEN and self.clock.now() >= self._opened + self.cooldown_s:
            self._state = self.HALF_OPEN
        return self._state

    def allow(self):
        if self.state == self.CLOSED:
            return True
        if self.state == self.HALF_OPEN and self._trials == 0:
            self._trials += 1
            return True
        return False

    def record_success(self):
        self._state, self._failures, self._trials = self.CLOSED, 0, 0

    def record_failure(self):
        if self.state == self.HALF_OPEN:
            self._open()
            return
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._open()
""",
        },
    },
}
