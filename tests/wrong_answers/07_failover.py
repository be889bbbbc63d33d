"""Lab 07: typical mistakes, each of which must fail the exercise's tests."""

#: the reference fallback chain; most wrong answers below change one line of it
_CHAIN = """
RETRYABLE = {429, 500, 502, 503, 504}

def retry_delay(attempt, retry_after=None):
    if retry_after is not None:
        return retry_after
    return min(8.0, 0.5 * 2 ** (attempt - 1))

def call_with_fallback(endpoints, clock, max_attempts=3, timeout_s=2.0, max_wait_s=5.0, fallback_answer=None):
    last_error = None
    for endpoint in endpoints:
        for attempt in range(1, max_attempts + 1):
            try:
                return endpoint.call(clock, timeout_s=timeout_s)
            except EndpointTimeout as e:
                last_error = e
                break
            except EndpointError as e:
                last_error = e
                if e.status not in RETRYABLE:
                    raise
                if attempt == max_attempts:
                    break
                delay = retry_delay(attempt, e.retry_after)
                if delay > max_wait_s:
                    break
                clock.sleep(delay)
    if fallback_answer is not None:
        return Answer(fallback_answer, "cache")
    raise last_error
"""

#: the reference circuit breaker; the wrong answers below change one line of it
_BREAKER = """
class CircuitBreaker:
    def __init__(self, clock, failure_threshold=3, cooldown_s=10.0):
        self.clock, self.failure_threshold, self.cooldown_s = clock, failure_threshold, cooldown_s
        self._state, self.failures, self.opened_at, self.trial_out = "closed", 0, 0.0, False

    @property
    def state(self):
        if self._state == "open" and self.clock.now() - self.opened_at >= self.cooldown_s:
            self._state, self.trial_out = "half_open", False
        return self._state

    def allow(self):
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self.trial_out:
            self.trial_out = True
            return True
        return False

    def record_success(self):
        self._state, self.failures, self.trial_out = "closed", 0, False

    def record_failure(self):
        self.failures += 1
        if self.state == "half_open" or self.failures >= self.failure_threshold:
            self._state, self.opened_at, self.trial_out = "open", self.clock.now(), False
"""

WRONG = {
    "ex1_solution": {
        "tests": "ex1_tests",
        "answers": {
            "a fallback chain multiplied like a series": """
def serial_availability(avails):
    return math.prod(avails)

def chain_availability(avails):
    return math.prod(avails)

def downtime_minutes_per_month(availability):
    return (1 - availability) * 30 * 24 * 60
""",
            "downtime over an average month of 365/12 days": """
def serial_availability(avails):
    return math.prod(avails)

def chain_availability(avails):
    return 1 - math.prod(1 - a for a in avails)

def downtime_minutes_per_month(availability):
    return (1 - availability) * 365 / 12 * 24 * 60
""",
            "a chain as good as its best endpoint, a series as its worst": """
def serial_availability(avails):
    return min(avails)

def chain_availability(avails):
    return max(avails)

def downtime_minutes_per_month(availability):
    return (1 - availability) * 30 * 24 * 60
""",
            "downtime in hours, not minutes": """
def serial_availability(avails):
    return math.prod(avails)

def chain_availability(avails):
    return 1 - math.prod(1 - a for a in avails)

def downtime_minutes_per_month(availability):
    return (1 - availability) * 30 * 24
""",
        },
    },
    "ex2_solution": {
        "tests": "ex2_tests",
        "answers": {
            "ignores Retry-After (always exponential backoff)": """
RETRYABLE = {429, 500, 502, 503, 504}

def retry_delay(attempt, retry_after=None):
    return min(8.0, 0.5 * 2 ** (attempt - 1))

def call_with_fallback(endpoints, clock, max_attempts=3, timeout_s=2.0, max_wait_s=5.0, fallback_answer=None):
    last_error = None
    for endpoint in endpoints:
        for attempt in range(1, max_attempts + 1):
            try:
                return endpoint.call(clock, timeout_s=timeout_s)
            except EndpointTimeout as e:
                last_error = e
                break
            except EndpointError as e:
                last_error = e
                if e.status not in RETRYABLE:
                    raise
                if attempt == max_attempts:
                    break
                clock.sleep(retry_delay(attempt, e.retry_after))
    if fallback_answer is not None:
        return Answer(fallback_answer, "cache")
    raise last_error
""",
            "fails over on every error, client errors included": """
def retry_delay(attempt, retry_after=None):
    if retry_after is not None:
        return retry_after
    return min(8.0, 0.5 * 2 ** (attempt - 1))

def call_with_fallback(endpoints, clock, max_attempts=3, timeout_s=2.0, max_wait_s=5.0, fallback_answer=None):
    last_error = None
    for endpoint in endpoints:
        for attempt in range(1, max_attempts + 1):
            try:
                return endpoint.call(clock, timeout_s=timeout_s)
            except (EndpointError, EndpointTimeout) as e:
                last_error = e
                if attempt == max_attempts:
                    break
                delay = retry_delay(attempt, getattr(e, "retry_after", None))
                if delay > max_wait_s:
                    break
                clock.sleep(delay)
    if fallback_answer is not None:
        return Answer(fallback_answer, "cache")
    raise last_error
""",
            "sleeps after the last attempt too": """
RETRYABLE = {429, 500, 502, 503, 504}

def retry_delay(attempt, retry_after=None):
    if retry_after is not None:
        return retry_after
    return min(8.0, 0.5 * 2 ** (attempt - 1))

def call_with_fallback(endpoints, clock, max_attempts=3, timeout_s=2.0, max_wait_s=5.0, fallback_answer=None):
    last_error = None
    for endpoint in endpoints:
        for attempt in range(1, max_attempts + 1):
            try:
                return endpoint.call(clock, timeout_s=timeout_s)
            except EndpointTimeout as e:
                last_error = e
                break
            except EndpointError as e:
                last_error = e
                if e.status not in RETRYABLE:
                    raise
                delay = retry_delay(attempt, e.retry_after)
                if delay > max_wait_s:
                    break
                clock.sleep(delay)
    if fallback_answer is not None:
        return Answer(fallback_answer, "cache")
    raise last_error
""",
            "Retry-After capped at 8 s like the backoff": _CHAIN.replace(
                "    if retry_after is not None:\n        return retry_after\n",
                "    if retry_after is not None:\n        return min(8.0, retry_after)\n",
            ),
            "a Retry-After of 0 taken as no Retry-After": _CHAIN.replace(
                "    if retry_after is not None:", "    if retry_after:"
            ),
            "a wait equal to max_wait_s is not waited": _CHAIN.replace(
                "if delay > max_wait_s:", "if delay >= max_wait_s:"
            ),
            "one retry count for the whole chain": _CHAIN.replace(
                "    last_error = None\n", "    last_error = None\n    retries = 0\n"
            ).replace(
                "                delay = retry_delay(attempt, e.retry_after)",
                "                retries += 1\n                delay = retry_delay(retries, e.retry_after)",
            ),
            "a client error gets the cached answer too": _CHAIN.replace(
                "                if e.status not in RETRYABLE:\n                    raise\n",
                "                if e.status not in RETRYABLE:\n"
                "                    if fallback_answer is not None:\n"
                "                        return Answer(fallback_answer, 'cache')\n"
                "                    raise\n",
            ),
            "only the listed client errors are raised, the rest retried": _CHAIN.replace(
                "                if e.status not in RETRYABLE:",
                "                if e.status in (400, 401):",
            ),
            "the caller's timeout is not passed on": _CHAIN.replace(
                "endpoint.call(clock, timeout_s=timeout_s)", "endpoint.call(clock)"
            ),
            "a timeout is retried like a 503": _CHAIN.replace(
                "            except EndpointTimeout as e:\n                last_error = e\n                break\n",
                "            except EndpointTimeout as e:\n                last_error = e\n"
                "                if attempt == max_attempts:\n                    break\n"
                "                clock.sleep(retry_delay(attempt))\n",
            ),
            "the first error is raised when nothing is left": _CHAIN.replace(
                "                last_error = e\n", "                last_error = last_error or e\n"
            ),
        },
    },
    "ex3_solution": {
        "tests": "ex3_tests",
        "answers": {
            "half-open lets every call through": """
class CircuitBreaker:
    def __init__(self, clock, failure_threshold=3, cooldown_s=10.0):
        self.clock, self.failure_threshold, self.cooldown_s = clock, failure_threshold, cooldown_s
        self._state, self.failures, self.opened_at = "closed", 0, 0.0

    @property
    def state(self):
        if self._state == "open" and self.clock.now() - self.opened_at >= self.cooldown_s:
            self._state = "half_open"
        return self._state

    def allow(self):
        return self.state != "open"

    def record_success(self):
        self._state, self.failures = "closed", 0

    def record_failure(self):
        self.failures += 1
        if self.state == "half_open" or self.failures >= self.failure_threshold:
            self._state, self.opened_at = "open", self.clock.now()
""",
            "a failed trial does not restart the cooldown": """
class CircuitBreaker:
    def __init__(self, clock, failure_threshold=3, cooldown_s=10.0):
        self.clock, self.failure_threshold, self.cooldown_s = clock, failure_threshold, cooldown_s
        self._state, self.failures, self.opened_at, self.trial_out = "closed", 0, 0.0, False

    @property
    def state(self):
        if self._state == "open" and self.clock.now() - self.opened_at >= self.cooldown_s:
            self._state, self.trial_out = "half_open", False
        return self._state

    def allow(self):
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self.trial_out:
            self.trial_out = True
            return True
        return False

    def record_success(self):
        self._state, self.failures, self.trial_out = "closed", 0, False

    def record_failure(self):
        self.failures += 1
        if self._state == "closed" and self.failures >= self.failure_threshold:
            self._state, self.opened_at = "open", self.clock.now()
        elif self.state == "half_open":
            self._state, self.trial_out = "open", False
""",
            "the cooldown counts from the first failure, not the one that opens": _BREAKER.replace(
                "    def record_failure(self):\n        self.failures += 1\n",
                "    def record_failure(self):\n        self.failures += 1\n"
                "        if self.failures == 1:\n            self.first_failure = self.clock.now()\n",
            ).replace(
                '"open", self.clock.now(), False',
                '"open", getattr(self, "first_failure", self.clock.now()), False',
            ),
            "reading the state hands out a new trial": _BREAKER.replace(
                '            self._state, self.trial_out = "half_open", False\n',
                '            self._state = "half_open"\n'
                '        if self._state == "half_open":\n'
                "            self.trial_out = False\n",
            ),
            "still open at exactly the end of the cooldown": _BREAKER.replace(
                ">= self.cooldown_s", "> self.cooldown_s"
            ),
            "a success while closed keeps the failure count": _BREAKER.replace(
                "    def record_success(self):\n",
                "    def record_success(self):\n"
                '        if self._state == "closed":\n'
                "            return\n",
            ),
            "a successful trial closes without resetting the count": _BREAKER.replace(
                '"closed", 0, False', '"closed", self.failures, False'
            ),
            "a failure recorded while open is ignored": _BREAKER.replace(
                "    def record_failure(self):\n",
                "    def record_failure(self):\n"
                '        if self.state == "open":\n'
                "            return\n",
            ),
            "refused calls restart the cooldown": _BREAKER.replace(
                "        return False\n\n    def record_success",
                "        self.opened_at = self.clock.now()\n        return False\n\n"
                "    def record_success",
            ),
        },
    },
}
