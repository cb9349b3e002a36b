"""Answers lost after Stitch processed the request (the case where a blind resend would duplicate):
the onboarding and nightly-sync sequences still end with one source, one destination and one job per
sync task, both at a seeded 20 % rate and with two lost answers in a row on each write and Jobs read.

The emulator's ``lose`` fault lets each hit request take effect, then closes the connection unanswered.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.reliability.fault_kinds import WRITES_AND_JOBS_READS, burst_faults, random_faults
from tests.reliability.test_fault_matrix import assert_clean_outcome, run_both_flows

CREATES = (r"^/v4/destinations$", r"^/v4/sources$")


def lost_answers(emulator: Any) -> list[str]:
    """``METHOD path`` of every request whose answer the emulator lost."""
    return [
        f"{entry['method']} {entry['path']}"
        for entry in emulator.control.stats()["log"]
        if str(entry["status"]).startswith("lost")
    ]


def test_flows_survive_answers_lost_at_random(flow_env: Any) -> None:
    # Seeded losses anywhere, and the source create's answer lost for certain (which requests the seed
    # hits depends on how many requests the flows make, so the create is not left to chance).
    flow_env.control.set_faults(
        burst_faults("lost", r"^/v4/sources$", length=1) | {"method": "POST"}, random_faults("lost")
    )

    onboarded, nightly = run_both_flows()

    assert_clean_outcome(flow_env, onboarded, nightly)
    lost = lost_answers(flow_env)
    assert "POST /v4/sources" in lost  # a create took effect with no answer, and no duplicate followed
    assert len(lost) >= 3


@pytest.mark.parametrize(("pattern", "method"), WRITES_AND_JOBS_READS)
def test_flows_survive_two_lost_answers_in_a_row(flow_env: Any, pattern: str, method: str) -> None:
    flow_env.control.set_faults(burst_faults("lost", pattern, length=2) | {"method": method})

    onboarded, nightly = run_both_flows()

    assert_clean_outcome(flow_env, onboarded, nightly)
    lost = lost_answers(flow_env)
    assert all(entry.startswith(method) for entry in lost)
    if pattern in CREATES:
        # The lookup before resending finds what the lost request created: nothing is sent twice.
        assert len(lost) == 1
        sent = [
            e
            for e in flow_env.control.stats()["log"]
            if e["method"] == "POST" and re.search(pattern, e["path"])
        ]
        assert len(sent) == 1
    else:
        assert len(lost) == 2
