"""Answers lost after Stitch processed the request (the case where a blind resend would duplicate):
the onboarding and nightly-sync sequences still end with one source, one destination and one job per
sync task, both at a seeded 20 % rate and with two lost answers in a row on each write and Jobs read."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fault_kinds import FAULT_RATE, FAULT_SEED, WRITES_AND_JOBS_READS
from lost_answers import LostAnswers
from test_fault_matrix import assert_clean_outcome, run_both_flows

CREATES = (r"^/v4/destinations$", r"^/v4/sources$")


def test_flows_survive_answers_lost_at_random(flow_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    lost = LostAnswers(flow_env.base_url, rate=FAULT_RATE, seed=FAULT_SEED).install(monkeypatch)

    onboarded, nightly = run_both_flows()

    assert_clean_outcome(flow_env, onboarded, nightly)
    assert "POST /v4/sources" in lost.lost  # the create really happened twice over the wire
    assert len(lost.lost) >= 3


@pytest.mark.parametrize(("pattern", "method"), WRITES_AND_JOBS_READS)
def test_flows_survive_two_lost_answers_in_a_row(
    flow_env: Any, monkeypatch: pytest.MonkeyPatch, pattern: str, method: str
) -> None:
    lost = LostAnswers(flow_env.base_url, pattern=pattern, methods=(method,), times=2).install(monkeypatch)

    onboarded, nightly = run_both_flows()

    assert_clean_outcome(flow_env, onboarded, nightly)
    assert all(entry.startswith(method) for entry in lost.lost)
    if pattern in CREATES:
        # The lookup before resending finds what the lost request created: nothing is sent twice.
        assert len(lost.lost) == 1
        sent = [
            e
            for e in flow_env.control.stats()["log"]
            if e["method"] == "POST" and re.search(pattern, e["path"])
        ]
        assert len(sent) == 1
    else:
        assert len(lost.lost) == 2
