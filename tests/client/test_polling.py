"""How often the client reads a job it follows: quickly at first, then at most every 5 s."""

from __future__ import annotations

import itertools

from client._polling import POLL_CAP, poll_delays


def test_default_delays_grow_from_half_a_second_to_the_cap():
    delays = list(itertools.islice(poll_delays(), 12))
    assert delays[:3] == [0.5, 0.75, 1.125]
    assert all(b >= a for a, b in itertools.pairwise(delays))
    assert max(delays) == POLL_CAP == delays[-1]
    # a 35 s job is read about a dozen times, not 70 (every 0.5 s)
    spent = itertools.accumulate(poll_delays())
    assert sum(1 for _ in itertools.takewhile(lambda t: t < 35, spent)) <= 13


def test_an_interval_given_is_used_every_time():
    assert list(itertools.islice(poll_delays(0.1), 4)) == [0.1] * 4
