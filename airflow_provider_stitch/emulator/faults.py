"""Arranged faults: answer matching requests with an error, a delay, silence, a cut, broken JSON, or a
processed request whose answer is lost."""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

FAULT_ACTIONS = ("status", "delay", "hang", "drop", "malformed", "lose")


class FaultSpecError(ValueError):
    """A fault description that cannot be used."""


@dataclass
class FaultRule:
    """One arranged fault.

    :param pattern: regular expression searched in the request path.
    :param action: ``status`` (answer ``status`` with a JSON error), ``delay`` (wait ``delay`` real seconds,
        then answer normally), ``hang`` (never answer), ``drop`` (close the connection without an answer)
        ``malformed`` (answer 200 with broken JSON) or ``lose`` (process the request, then close the
        connection instead of answering: the client cannot tell whether it took effect).
    :param method: only requests with this method, or any method when None.
    :param status: status code for ``status``.
    :param delay: real seconds to wait before acting (any action).
    :param body: JSON body for ``status`` (a default error body when None).
    :param times: how many matching requests get the fault (None: unlimited).
    :param rate: probability per matching request (1.0: always), drawn from a generator seeded with ``seed``.
    :param seed: seed of that generator, for repeatable runs.
    """

    pattern: str
    action: str = "status"
    method: str | None = None
    status: int = 500
    delay: float = 0.0
    body: Any = None
    times: int | None = None
    rate: float = 1.0
    seed: int | None = None
    id: int = 0
    hits: int = 0
    _regex: re.Pattern[str] = field(init=False, repr=False)
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.action not in FAULT_ACTIONS:
            raise FaultSpecError(f"fault action must be one of {', '.join(FAULT_ACTIONS)}")
        try:
            self._regex = re.compile(self.pattern)
        except re.error as exc:
            raise FaultSpecError(f"fault pattern is not a regular expression: {exc}") from None
        if not 100 <= int(self.status) <= 599:
            raise FaultSpecError("fault status must be an HTTP status code")
        if self.delay < 0 or not 0.0 <= self.rate <= 1.0:
            raise FaultSpecError("fault delay must be >= 0 and rate between 0 and 1")
        if self.times is not None and self.times < 0:
            raise FaultSpecError("fault times must be >= 0")
        self.method = self.method.upper() if self.method else None
        self._random = random.Random(self.seed)

    @classmethod
    def from_mapping(cls, spec: Mapping[str, Any]) -> FaultRule:
        """Build a rule from a JSON object with the constructor's argument names."""
        known = {"pattern", "action", "method", "status", "delay", "body", "times", "rate", "seed"}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise FaultSpecError(f"unknown fault field(s): {', '.join(unknown)}")
        if not isinstance(spec.get("pattern"), str):
            raise FaultSpecError("a fault needs a 'pattern' (regular expression over the path)")
        try:
            return cls(
                pattern=spec["pattern"],
                action=str(spec.get("action", "status")),
                method=spec.get("method"),
                status=int(spec.get("status", 500)),
                delay=float(spec.get("delay", 0.0)),
                body=spec.get("body"),
                times=None if spec.get("times") is None else int(spec["times"]),
                rate=float(spec.get("rate", 1.0)),
                seed=None if spec.get("seed") is None else int(spec["seed"]),
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, FaultSpecError):
                raise
            raise FaultSpecError(f"fault field has the wrong type: {exc}") from None

    def matches(self, method: str, path: str) -> bool:
        """True when the rule applies to this request (before counting and chance)."""
        if self.method is not None and self.method != method.upper():
            return False
        return self._regex.search(path) is not None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {
            "id": self.id,
            "pattern": self.pattern,
            "action": self.action,
            "method": self.method,
            "status": self.status,
            "delay": self.delay,
            "body": self.body,
            "times": self.times,
            "rate": self.rate,
            "seed": self.seed,
            "hits": self.hits,
        }


class FaultRegistry:
    """The arranged faults, first match wins."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._next_id = 1
        self._lock = threading.Lock()

    def add(self, rule: FaultRule) -> FaultRule:
        """Arrange one more fault; returns it with its id."""
        with self._lock:
            rule.id = self._next_id
            self._next_id += 1
            self._rules.append(rule)
            return rule

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._rules.clear()

    def list(self) -> list[dict[str, Any]]:
        """Every arranged fault."""
        with self._lock:
            return [rule.as_dict() for rule in self._rules]

    def pick(self, method: str, path: str) -> FaultRule | None:
        """The fault to apply to this request, consuming one of its ``times``; None for a normal answer."""
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, path):
                    continue
                if rule.times is not None and rule.hits >= rule.times:
                    continue
                if rule.rate < 1.0 and rule._random.random() >= rule.rate:
                    continue
                rule.hits += 1
                return rule
            return None
