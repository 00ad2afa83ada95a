"""The read-rate limiter on a fake clock: it waits exactly as long as the debt requires."""

from __future__ import annotations

from reconciler.reconcile.ratelimit import ReadRateLimiter
from tests.fakes.reconcile import FakeClock


def test_requests_within_the_burst_do_not_wait():
    clock = FakeClock()
    limiter = ReadRateLimiter(10, clock=clock, sleep=clock.sleep)
    for _ in range(10):
        limiter.acquire()
    assert clock.slept == []


def test_requests_beyond_the_burst_wait_for_refill():
    clock = FakeClock()
    limiter = ReadRateLimiter(10, clock=clock, sleep=clock.sleep)
    start = clock.now
    for _ in range(30):
        limiter.acquire()
    # 10 from the burst, 20 more at 10 per second.
    assert abs((clock.now - start) - 2.0) < 1e-9


def test_consumed_capacity_beyond_the_reservation_is_paid_back_before_the_next_read():
    clock = FakeClock()
    limiter = ReadRateLimiter(100, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    limiter.charge(299)  # a big Query: 300 units in total
    start = clock.now
    limiter.acquire()
    # 100 burst - 300 consumed = -200; one more unit needs 201 units of refill.
    assert abs((clock.now - start) - 2.01) < 1e-9


def test_zero_rate_means_unlimited():
    clock = FakeClock()
    limiter = ReadRateLimiter(0, clock=clock, sleep=clock.sleep)
    for _ in range(1000):
        limiter.acquire()
        limiter.charge(50)
    assert clock.slept == []
    assert limiter.enabled is False
