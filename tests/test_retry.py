"""The single retry policy: what is retried, how long it waits, when it gives up; and the pacer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
from structlog.testing import capture_logs
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from sync.retry import Pacer, RetryPolicy, failed_before_sending, is_retryable

NOW = datetime(2026, 2, 11, 9, 12, tzinfo=UTC).timestamp()


class FakeTime:
    """A wall clock that only moves when the code under test sleeps."""

    def __init__(self, start: float = NOW) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def call_with_retry(fn, *, idempotent: bool, policy: RetryPolicy, operation: str = "request"):
    """One call under the policy, as the adapters make it (RetryPolicy.call)."""
    return policy.call(fn, idempotent=idempotent, operation=operation)


def policy(fake: FakeTime, **overrides) -> RetryPolicy:
    options = {"sleep": fake.sleep, "clock": fake.clock, "jitter": lambda: 0.0, **overrides}
    return RetryPolicy(**options)


def http_error(status: int, **headers: str) -> requests.HTTPError:
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers)
    return requests.HTTPError(f"HTTP {status}", response=response)


def connect_refused() -> requests.ConnectionError:
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
    return requests.ConnectionError(MaxRetryError(None, "/rest/api/2/issue/bulk", reason))


def failing(*errors: BaseException, result: str = "ok") -> tuple[Callable[[], str], list[int]]:
    """A call that raises the given errors in turn, then returns result; counts calls."""
    calls: list[int] = []

    def call() -> str:
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return result

    return call, calls


def test_429_waits_at_least_retry_after_then_succeeds() -> None:
    fake = FakeTime()
    call, calls = failing(http_error(429, **{"Retry-After": "7"}))
    assert call_with_retry(call, idempotent=True, policy=policy(fake)) == "ok"
    assert len(calls) == 2
    assert fake.sleeps and fake.sleeps[0] >= 7


def test_retry_after_zero_is_clamped_to_one_second() -> None:
    fake = FakeTime()
    call, _ = failing(http_error(429, **{"Retry-After": "0"}), http_error(503, **{"Retry-After": "0"}))
    call_with_retry(call, idempotent=True, policy=policy(fake))
    assert len(fake.sleeps) == 2 and min(fake.sleeps) >= 1.0


def test_retry_after_as_http_date() -> None:
    fake = FakeTime()
    when = format_datetime(datetime.fromtimestamp(NOW, UTC) + timedelta(seconds=30), usegmt=True)
    call, _ = failing(http_error(429, **{"Retry-After": when}))
    call_with_retry(call, idempotent=True, policy=policy(fake))
    assert fake.sleeps[0] >= 30


def test_rate_limit_reset_header_is_honoured() -> None:
    fake = FakeTime()
    reset = (datetime.fromtimestamp(NOW, UTC) + timedelta(seconds=12)).isoformat().replace("+00:00", "Z")
    call, _ = failing(http_error(429, **{"X-RateLimit-Reset": reset, "Retry-After": "3"}))
    call_with_retry(call, idempotent=True, policy=policy(fake))
    assert fake.sleeps[0] >= 12  # the later of the two hints


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_retried_for_reads(status: int) -> None:
    fake = FakeTime()
    call, calls = failing(http_error(status), http_error(status))
    assert call_with_retry(call, idempotent=True, policy=policy(fake)) == "ok"
    assert len(calls) == 3


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_create_is_not_retried_on_5xx(status: int) -> None:
    fake = FakeTime()
    call, calls = failing(http_error(status, **{"Retry-After": "1"}))
    with pytest.raises(requests.HTTPError):
        call_with_retry(call, idempotent=False, policy=policy(fake))
    assert len(calls) == 1 and fake.sleeps == []


def test_create_is_retried_on_429() -> None:
    fake = FakeTime()
    call, calls = failing(http_error(429, **{"Retry-After": "2"}))
    assert call_with_retry(call, idempotent=False, policy=policy(fake)) == "ok"
    assert len(calls) == 2 and fake.sleeps[0] >= 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410])
def test_client_errors_are_never_retried(status: int) -> None:
    call, calls = failing(http_error(status))
    with pytest.raises(requests.HTTPError):
        call_with_retry(call, idempotent=True, policy=policy(FakeTime()))
    assert len(calls) == 1


def test_connection_errors_are_retried_for_reads() -> None:
    errors = (requests.ConnectionError(ProtocolError("Connection aborted.")), requests.ReadTimeout(), connect_refused())
    call, calls = failing(*errors)
    assert call_with_retry(call, idempotent=True, policy=policy(FakeTime())) == "ok"
    assert len(calls) == 4


def test_create_is_retried_only_when_the_request_never_left() -> None:
    call, calls = failing(requests.ConnectTimeout(), connect_refused())
    assert call_with_retry(call, idempotent=False, policy=policy(FakeTime())) == "ok"
    assert len(calls) == 3
    for after_sending in (requests.ReadTimeout(), requests.ConnectionError(ProtocolError("Connection aborted."))):
        call, calls = failing(after_sending)
        with pytest.raises(requests.RequestException):
            call_with_retry(call, idempotent=False, policy=policy(FakeTime()))
        assert len(calls) == 1


def test_classification_helpers() -> None:
    assert failed_before_sending(requests.ConnectTimeout())
    assert failed_before_sending(connect_refused())
    assert not failed_before_sending(requests.ConnectionError("reset by peer"))
    assert not is_retryable(requests.exceptions.SSLError("certificate verify failed"), idempotent=True)
    assert not is_retryable(ValueError("bug"), idempotent=True)


def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    fake = FakeTime()
    call, calls = failing(*(http_error(503) for _ in range(10)))
    with pytest.raises(requests.HTTPError) as caught:
        call_with_retry(call, idempotent=True, policy=policy(fake, max_attempts=4))
    assert caught.value.response.status_code == 503
    assert len(calls) == 4 and len(fake.sleeps) == 3


def test_gives_up_rather_than_wait_beyond_the_total_budget() -> None:
    fake = FakeTime()
    call, calls = failing(http_error(429, **{"Retry-After": "600"}))
    with pytest.raises(requests.HTTPError):
        call_with_retry(call, idempotent=True, policy=policy(fake, max_total_seconds=120))
    assert len(calls) == 1 and fake.sleeps == []


def test_backoff_is_exponential_jittered_and_capped() -> None:
    low = RetryPolicy(base_seconds=1, cap_seconds=10, jitter=lambda: 0.0)
    high = RetryPolicy(base_seconds=1, cap_seconds=10, jitter=lambda: 0.999)
    assert [low.backoff(n) for n in (1, 2, 3, 4, 5, 6)] == [0.5, 1, 2, 4, 5, 5]
    assert 9.9 < high.backoff(6) <= 10


def test_retries_are_logged_without_urls_or_secrets() -> None:
    fake = FakeTime()
    call, _ = failing(http_error(503, **{"Retry-After": "2"}))
    with capture_logs() as logs:
        call_with_retry(call, idempotent=True, policy=policy(fake), operation="GET /rest/api/2/search")
    (event,) = [entry for entry in logs if entry["event"] == "request_retried"]
    assert event["status"] == 503 and event["attempt"] == 1 and event["wait"] >= 2
    assert event["operation"] == "GET /rest/api/2/search"


def test_pacer_spaces_requests_to_the_rate() -> None:
    fake = FakeTime(0.0)
    pacer = Pacer(2, burst=1, clock=fake.clock, sleep=fake.sleep)
    for _ in range(4):
        pacer.acquire()
    assert fake.sleeps == [0.5, 0.5, 0.5]


def test_pacer_allows_a_burst_then_refills() -> None:
    fake = FakeTime(0.0)
    pacer = Pacer(10, clock=fake.clock, sleep=fake.sleep)
    for _ in range(10):
        pacer.acquire()
    assert fake.sleeps == []
    pacer.acquire()
    assert fake.sleeps == [pytest.approx(0.1)]
    fake.now += 1.0
    pacer.acquire()
    assert len(fake.sleeps) == 1
