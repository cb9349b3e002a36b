"""stitch_deadline as a small block object: nesting, re-entry and the hand-set deadline of a trigger."""

from __future__ import annotations

import pytest

from airflow_provider_stitch.api.deadlines import (
    current_deadline,
    enter_deadline,
    leave_deadline,
    stitch_deadline,
)


def test_an_inner_later_deadline_keeps_the_outer_one_and_exit_restores_each_level() -> None:
    with stitch_deadline(5) as outer:
        assert outer is not None and outer.seconds == 5.0
        with stitch_deadline(60) as inner:
            assert inner is outer
        with stitch_deadline(1) as nearer:
            assert nearer is not outer and nearer.seconds == 1.0
            assert current_deadline() is nearer
        assert current_deadline() is outer
    assert current_deadline() is None


def test_no_seconds_gives_the_deadline_in_force_and_sets_none() -> None:
    with stitch_deadline(None) as none:
        assert none is None
    with stitch_deadline(3) as outer, stitch_deadline(None) as same:
        assert same is outer
    assert current_deadline() is None


def test_a_block_is_restored_when_its_body_raises_and_the_error_goes_on() -> None:
    with pytest.raises(KeyError, match="boom"), stitch_deadline(2):
        raise KeyError("boom")
    assert current_deadline() is None


def test_one_block_cannot_be_entered_twice_at_once_but_again_after_its_exit() -> None:
    block = stitch_deadline(4)
    with block:
        with pytest.raises(RuntimeError, match="already in force"), block:
            pass
        assert current_deadline() is not None and current_deadline().seconds == 4.0
    assert current_deadline() is None
    with block as again:
        assert again is not None and again.seconds == 4.0
    assert current_deadline() is None


def test_a_hand_set_deadline_nests_like_a_block_and_a_negative_time_has_passed() -> None:
    with stitch_deadline(2) as outer:
        token = enter_deadline(30)
        assert current_deadline() is outer
        leave_deadline(token)
    token = enter_deadline(-1)
    deadline = current_deadline()
    assert deadline is not None and deadline.seconds == -1.0 and deadline.left() <= 0
    leave_deadline(token)
    assert current_deadline() is None
