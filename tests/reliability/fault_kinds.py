"""The fault kinds of the reliability tests and how to arrange each on the emulator.

Timing is scaled for tests: clients use :data:`CLIENT_TIMEOUT` per request, and a "timeout" fault delays the
answer past it (a "hang" never answers at all).
"""

from __future__ import annotations

import time
from typing import Any

#: Seconds each request may take in these tests.
CLIENT_TIMEOUT = 0.25
#: Real seconds a "timeout" fault holds the answer back (longer than the client waits).
TIMEOUT_FAULT_DELAY = 0.6
#: Fault rate of the random runs, and the seed that makes them repeatable.
FAULT_RATE = 0.2
FAULT_SEED = 8

#: Fault kind -> the emulator's fault fields that produce it.
FAULT_KINDS: dict[str, dict[str, Any]] = {
    "500": {"action": "status", "status": 500},
    "502": {"action": "status", "status": 502},
    "503": {"action": "status", "status": 503},
    "429": {"action": "status", "status": 429},
    "timeout": {"action": "delay", "delay": TIMEOUT_FAULT_DELAY},
    "hang": {"action": "hang"},
    "drop": {"action": "drop"},
    "malformed": {"action": "malformed"},
}
#: The answer is lost after the request took effect. Kept apart from :data:`FAULT_KINDS`: a create hit
#: every time still succeeds (the lookup before resending finds it), so the failure matrix does not apply.
LOST_ANSWER = {"action": "lose"}
#: Kinds that cost a client timeout per hit (slow in real time).
SLOW_KINDS = frozenset({"timeout", "hang"})
#: Every API path (the emulator's control paths are never faulted).
ANY_API_PATH = r"^/v\d+/"
#: The rate-limited Jobs paths.
JOBS_PATHS = r"^/v4/\d+/(extractions|loads)"
#: (path pattern, method) of every write the example flows make, and of the Jobs reads.
WRITES_AND_JOBS_READS = (
    (r"^/v4/destinations$", "POST"),
    (r"^/v4/sources$", "POST"),
    (r"^/v4/sources/\d+/streams/metadata$", "PUT"),
    (r"^/v4/sources/\d+/sync$", "POST"),
    (JOBS_PATHS, "GET"),
)


def _fields_of(kind: str) -> dict[str, Any]:
    return LOST_ANSWER if kind == "lost" else FAULT_KINDS[kind]


def random_faults(
    kind: str, pattern: str = ANY_API_PATH, *, rate: float = FAULT_RATE, seed: int = FAULT_SEED
) -> dict[str, Any]:
    """A fault of ``kind`` hitting each matching request with probability ``rate`` (seeded)."""
    return {"pattern": pattern, **_fields_of(kind), "rate": rate, "seed": seed}


def burst_faults(kind: str, pattern: str = ANY_API_PATH, *, length: int = 3) -> dict[str, Any]:
    """A fault of ``kind`` hitting the next ``length`` matching requests in a row."""
    return {"pattern": pattern, **_fields_of(kind), "times": length}


def persistent_faults(kind: str, pattern: str = ANY_API_PATH) -> dict[str, Any]:
    """A fault of ``kind`` hitting every matching request."""
    return {"pattern": pattern, **_fields_of(kind)}


def zero_wait(_retry_state: Any) -> float:
    """Retry wait of the tests: resend at once (the worst case for the rate limit)."""
    return 0.0


def let_delayed_answers_finish(emulator: Any) -> None:
    """Clear the faults and wait out answers still held back by "timeout" faults.

    The emulator counts a delayed request when it finally answers; without this wait, a request of one test
    would be counted in the next test's (freshly reset) statistics.
    """
    delayed = any(rule["action"] == "delay" and rule["hits"] for rule in emulator.control.faults())
    emulator.control.clear_faults()
    if delayed:
        time.sleep(TIMEOUT_FAULT_DELAY + 0.2)
