"""Answers lost after Stitch processed the request: the fault that tests idempotency of retries.

The emulator's faults act before the request reaches its handlers; this one lets the request through and
then discards the answer, raising the ``ReadTimeout`` a client would see when the connection died on the
way back. It wraps ``requests.Session.request`` for API paths of one base URL (the sync client's transport).
"""

from __future__ import annotations

import random
import re
from typing import Any

import pytest
import requests


class LostAnswers:
    """Loses the answers of matching requests, at a seeded rate or for the first ``times`` matches.

    Args:
        base_url: the emulator's base URL (other hosts are untouched).
        pattern: regular expression searched in the request path.
        methods: methods whose answers may be lost.
        rate: probability per matching request.
        times: lose only this many answers (None: no limit).
        seed: seed of the random draws.
    """

    def __init__(
        self,
        base_url: str,
        *,
        pattern: str = r"^/v\d+/",
        methods: tuple[str, ...] = ("GET", "POST", "PUT", "DELETE"),
        rate: float = 1.0,
        times: int | None = None,
        seed: int = 0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.pattern = re.compile(pattern)
        self.methods = methods
        self.rate = rate
        self.times = times
        self.random = random.Random(seed)
        self.lost: list[str] = []

    def _hits(self, method: str, url: str) -> bool:
        if not url.startswith(self.base_url) or method.upper() not in self.methods:
            return False
        path = url[len(self.base_url) :].split("?", 1)[0]
        if not self.pattern.search(path):
            return False
        if self.times is not None and len(self.lost) >= self.times:
            return False
        return self.rate >= 1.0 or self.random.random() < self.rate

    def install(self, monkeypatch: pytest.MonkeyPatch) -> LostAnswers:
        """Wrap ``requests.Session.request`` until ``monkeypatch`` is undone."""
        original = requests.Session.request
        lost_answers = self

        def request(session: requests.Session, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            response = original(session, method, url, *args, **kwargs)
            if lost_answers._hits(method, url):
                response.close()
                lost_answers.lost.append(f"{method.upper()} {url[len(lost_answers.base_url) :]}")
                raise requests.ReadTimeout("the answer was lost after the server processed the request")
            return response

        monkeypatch.setattr(requests.Session, "request", request)
        return self
