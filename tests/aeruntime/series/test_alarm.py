"""The persistence rule (k of the last n labels, then a hold-off) against a plain-Python reference."""

from __future__ import annotations

import numpy as np
import pytest

from aeruntime.series import AlarmRule, alarms


def _reference(labels, k: int, n: int, hold_off: int) -> list[int]:
    """The rule as docs/bundle-format.md words it, one step at a time."""
    out, last = [], -(10**9)
    for t in range(len(labels)):
        count = sum(labels[max(0, t - n + 1) : t + 1])
        if count >= k and t - last > hold_off:
            out.append(1)
            last = t
        else:
            out.append(0)
    return out


@pytest.mark.parametrize(("k", "n", "hold_off"), [(1, 1, 0), (1, 1, 3), (2, 3, 0), (2, 3, 5), (3, 3, 1), (4, 10, 20)])
@pytest.mark.parametrize("density", [0.05, 0.4])
def test_alarms_equal_the_reference_in_one_piece_and_in_chunks(k, n, hold_off, density):
    rng = np.random.default_rng(k * 100 + n * 10 + hold_off)
    labels = (rng.random(2000) < density).astype(np.int8)
    labels[500:560] = 1  # a sustained anomaly
    want = _reference(labels.tolist(), k, n, hold_off)
    np.testing.assert_array_equal(alarms(labels, k, n, hold_off), want)
    rule, got, i = AlarmRule(k, n, hold_off), [], 0
    for size in rng.integers(1, 40, size=200):  # uneven chunks, some of one step
        got.append(rule.apply(labels[i : i + size]))
        i += size
    got.append(rule.apply(labels[i:]))
    np.testing.assert_array_equal(np.concatenate(got), want)


def test_defaults_make_the_alarm_the_label():
    labels = np.array([0, 1, 1, 0, 1, 0, 0, 1], np.int8)
    np.testing.assert_array_equal(alarms(labels), labels)


def test_hold_off_silences_a_sustained_anomaly():
    np.testing.assert_array_equal(alarms(np.ones(10, np.int8), 1, 1, 3), [1, 0, 0, 0, 1, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(alarms(np.array([1, 0, 1, 1, 0, 0], np.int8), 2, 3, 0), [0, 0, 1, 1, 1, 0])


@pytest.mark.parametrize(("k", "n", "hold_off"), [(0, 1, 0), (3, 2, 0), (1, 1, -1)])
def test_an_impossible_rule_is_refused(k, n, hold_off):
    with pytest.raises(ValueError, match=r"alarm rule needs 1 <= k <= n and hold_off >= 0"):
        AlarmRule(k, n, hold_off)
