"""A Jobs budget backend in Redis, for workers and triggerers on several hosts (extra ``redis``).

Taken requests are members of one sorted set per budget key, scored by the time they were taken; a Lua
script prunes, counts and adds in one atomic step, so any number of processes share one window. The
timeline is the Redis server's own clock (``TIME``), never a writer's: entries scored later than the
server's "now" are clamped to it.

A server that does not answer raises :class:`StitchBudgetStoreUnreachable` (waits retry later, nothing is
sent meanwhile); any other Redis failure raises :class:`StitchBudgetStoreError`. Both name the server
without its password. A process whose server has not answered yet reads this host's clock as an estimate
of the server's until it answers, so waits can count down their deadlines during an outage.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_stitch.api.budget import iso_time, process_time
from airflow_provider_stitch.api.errors import StitchBudgetStoreError, StitchBudgetStoreUnreachable

logger = logging.getLogger("airflow_provider_stitch.budget")

#: Shared head of every script: ``t`` is ARGV[1] when given, else the server's TIME.
_NOW = """
local t
if ARGV[1] == '' then
  local clock = redis.call('TIME')
  t = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
else
  t = tonumber(ARGV[1])
end
"""

#: Clamps future entries, prunes the window, then takes a token when there is room; answers "0" or the
#: seconds until one frees.
_TAKE_SCRIPT = (
    _NOW
    + """
local key = KEYS[1]
local limit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
for _, member in ipairs(redis.call('ZRANGEBYSCORE', key, '(' .. t, '+inf')) do
  redis.call('ZADD', key, t, member)
end
redis.call('ZREMRANGEBYSCORE', key, '-inf', t - window)
local count = redis.call('ZCARD', key)
if count < limit then
  redis.call('ZADD', key, t, ARGV[4])
  redis.call('EXPIRE', key, math.ceil(window) + 60)
  return '0'
end
local freeing = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
local wait = tonumber(freeing[2]) + window - t
if wait < 0.000001 then wait = 0.000001 end
return tostring(wait)
"""
)

#: Adds or renews one announcement: KEYS[1] scores expiry, KEYS[2] holds each member's ttl.
_ANNOUNCE_SCRIPT = (
    _NOW
    + """
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], t + ttl, ARGV[3])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[2])
redis.call('EXPIRE', KEYS[1], math.ceil(ttl) + 60)
redis.call('EXPIRE', KEYS[2], math.ceil(ttl) + 60)
return 1
"""
)

#: Drops expired announcements, clamps ones stamped beyond their ttl, answers the live members.
_ANNOUNCED_SCRIPT = (
    _NOW
    + """
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', t)) do
  redis.call('ZREM', KEYS[1], member)
  redis.call('HDEL', KEYS[2], member)
end
local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. t, '+inf', 'WITHSCORES')
local members = {}
for i = 1, #live, 2 do
  local ttl = tonumber(redis.call('HGET', KEYS[2], live[i]) or '0')
  if tonumber(live[i + 1]) > t + ttl then
    redis.call('ZADD', KEYS[1], t + ttl, live[i])
  end
  members[#members + 1] = live[i]
end
return members
"""
)

#: How long a stored snapshot may stay unread before Redis drops it (seconds).
SNAPSHOT_TTL = 24 * 3600
#: How often the offset between the server's TIME and this process's monotonic clock is re-read (seconds).
TIME_REFRESH = 30.0
#: While the clock is this host's estimate (the server never answered), TIME is tried again this often.
ESTIMATE_RETRY = 1.0


def _now_argument(now: float | None) -> str:
    return "" if now is None else repr(float(now))


def _location_of(url: str | None, client: Any) -> str:
    """The server's address for messages: scheme, user, host, port and path, never a password or query."""
    if url:
        parts = urlsplit(url)
        user = f"{parts.username}@" if parts.username else ""
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{user}{parts.hostname or ''}{port}{parts.path}"
    kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {}) or {}
    if kwargs.get("path"):
        return f"unix://{kwargs['path']}"
    return f"redis://{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


class RedisBudgetBackend:
    """Budget storage shared through a Redis server, on the server's clock.

    :param url: ``redis://`` (or ``rediss://``, ``unix://``) URL of the server.
    :param prefix: prefix of every key this backend writes.
    :param client: a ready ``redis.Redis`` client instead of ``url`` (tests, custom pools).
    """

    def __init__(
        self, url: str | None = None, *, prefix: str = "airflow-provider-stitch:", client: Any = None
    ):
        try:
            import redis
        except ImportError as missing:
            raise ImportError(
                "the redis budget backend needs the redis package: pip install 'airflow-provider-stitch[redis]'"
            ) from missing
        if client is None:
            if not url:
                raise ValueError("RedisBudgetBackend needs a redis:// URL")
            client = redis.Redis.from_url(
                url, decode_responses=True, socket_timeout=10.0, socket_connect_timeout=10.0
            )
        self._errors = redis.exceptions
        self.location = _location_of(url, client)
        self._redis = client
        self.prefix = prefix
        self._take = client.register_script(_TAKE_SCRIPT)
        self._announce = client.register_script(_ANNOUNCE_SCRIPT)
        self._announced = client.register_script(_ANNOUNCED_SCRIPT)
        self._offset_lock = threading.Lock()
        self._offset: float | None = None
        self._offset_read_at = -TIME_REFRESH
        self._estimated = False
        self._refreshing = False

    def __repr__(self) -> str:
        return f"RedisBudgetBackend(prefix={self.prefix!r})"

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    @contextmanager
    def _answering(self) -> Iterator[None]:
        """Turn the Redis errors of the calls inside into the package's store errors."""
        errors = self._errors
        try:
            yield
            if self._estimated:
                self._offset_read_at = -TIME_REFRESH  # the server answers: read its clock on the next look
        except errors.AuthenticationError as problem:
            raise StitchBudgetStoreError(self.location, f"refused the credentials ({problem})") from problem
        except (errors.ConnectionError, errors.TimeoutError) as problem:
            raise StitchBudgetStoreUnreachable(self.location, f"no answer ({problem})") from problem
        except errors.RedisError as problem:
            raise StitchBudgetStoreError(self.location, str(problem)) from problem

    def now(self) -> float:
        """The server's clock: this process's monotonic clock plus an offset read with ``TIME``.

        Only the first call waits for the server. Later reads of ``TIME`` happen in the background, at most
        every :data:`TIME_REFRESH` seconds, so a server that hangs never holds up a caller (an event loop);
        while the server does not answer, the last offset stays in use. With none read yet, this host's
        clock stands in for the server's (tried again every :data:`ESTIMATE_RETRY` seconds, and soon after
        any call the server answers), so a wait that starts during an outage can still count down its
        deadline; see :attr:`clock_estimated`.
        """
        with self._offset_lock:
            offset = self._offset
            if offset is None:
                offset = self._settle_offset(self._server_offset())
            elif self._refresh_due() and not self._refreshing:
                self._refreshing = True
                threading.Thread(target=self._refresh, name="stitch-budget-clock", daemon=True).start()
            return offset + time.monotonic()

    def _refresh_due(self) -> bool:
        every = ESTIMATE_RETRY if self._estimated else TIME_REFRESH
        return time.monotonic() - self._offset_read_at >= every

    def _refresh(self) -> None:
        """Read the server's clock again (in a background thread); any failure keeps the offset in force."""
        try:
            answer = self._server_offset()
        except StitchBudgetStoreError as problem:  # refused credentials: the next store call reports it
            answer = problem
        with self._offset_lock:
            self._settle_offset(answer)
            self._refreshing = False

    def _server_offset(self) -> float | StitchBudgetStoreError:
        """The server's ``TIME`` minus this process's monotonic clock, or the problem when it does not answer."""
        try:
            with self._answering():
                seconds, micros = self._redis.time()
        except StitchBudgetStoreUnreachable as problem:
            return problem
        return float(seconds) + float(micros) / 1e6 - time.monotonic()

    def _settle_offset(self, answer: float | StitchBudgetStoreError) -> float:
        """Take a reading (or keep, or with none estimate, the offset on a problem); returns the offset now."""
        self._offset_read_at = time.monotonic()
        if isinstance(answer, StitchBudgetStoreError):
            if self._offset is None:
                self._offset = process_time() - time.monotonic()
                self._estimated = True
                logger.warning(
                    "the Jobs budget store %s has not answered yet (%s); this host's clock stands in for the "
                    "store's until it does",
                    self.location,
                    answer.problem,
                )
            return self._offset
        if self._estimated and self._offset is not None:
            logger.info(
                "the Jobs budget store %s answers; its clock (%s) replaces this host's, which was %.1f s %s",
                self.location,
                iso_time(answer + time.monotonic()),
                abs(answer - self._offset),
                "ahead" if self._offset > answer else "behind",
            )
        self._offset, self._estimated = answer, False
        return answer

    @property
    def clock_estimated(self) -> bool:
        """True while :meth:`now` is this host's estimate because the server has never answered."""
        return self._estimated

    def take(self, key: str, limit: int, window: float, now: float | None = None) -> float:
        """Atomically take one token: 0.0 when taken, else seconds until one frees up."""
        with self._answering():
            answer = self._take(
                keys=[self._key(key)],
                args=[_now_argument(now), limit, repr(float(window)), uuid.uuid4().hex],
            )
        return float(answer)

    def timestamps(self, key: str, window: float, now: float | None = None) -> list[float]:
        """Times of the tokens taken within the window ending at ``now``, oldest first."""
        at = self.now() if now is None else float(now)
        with self._answering():
            entries = self._redis.zrangebyscore(self._key(key), f"({at - window!r}", "+inf", withscores=True)
        return sorted(min(float(score), at) for _, score in entries)

    def put_snapshot(self, key: str, payload: str, fetched_at: float) -> None:
        """Store a shared snapshot."""
        name = self._key(f"snapshot:{key}")
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(name, mapping={"payload": payload, "fetched_at": repr(float(fetched_at))})
        pipe.expire(name, SNAPSHOT_TTL)
        with self._answering():
            pipe.execute()

    def get_snapshot(self, key: str) -> tuple[str, float] | None:
        """Read a shared snapshot, or None."""
        with self._answering():
            stored = self._redis.hgetall(self._key(f"snapshot:{key}"))
        if not stored or "payload" not in stored:
            return None
        return str(stored["payload"]), float(stored.get("fetched_at") or 0.0)

    def _announcement_keys(self, key: str) -> list[str]:
        return [self._key(f"announced:{key}"), self._key(f"announced-ttl:{key}")]

    def announce(self, key: str, member: str, ttl: float, now: float | None = None) -> None:
        """Add or renew one announcement (one sorted-set member)."""
        with self._answering():
            self._announce(
                keys=self._announcement_keys(key), args=[_now_argument(now), repr(float(ttl)), member]
            )

    def withdraw(self, key: str, member: str) -> None:
        """Remove one announcement."""
        scores, ttls = self._announcement_keys(key)
        pipe = self._redis.pipeline(transaction=True)
        pipe.zrem(scores, member)
        pipe.hdel(ttls, member)
        with self._answering():
            pipe.execute()

    def announced(self, key: str, now: float | None = None) -> set[str]:
        """Live announcements; expired ones are deleted, ones stamped in the future clamped to one ttl."""
        with self._answering():
            members = self._announced(keys=self._announcement_keys(key), args=[_now_argument(now)])
        return {str(member) for member in members}

    def put_record(self, key: str, payload: str, ttl: float, now: float | None = None) -> None:
        """Store or replace one record; Redis drops it ``ttl`` seconds later on its own clock (``now`` unused)."""
        with self._answering():
            self._redis.set(self._key(f"record:{key}"), payload, px=max(1, round(float(ttl) * 1000)))

    def get_record(self, key: str, now: float | None = None) -> str | None:
        """A live record's payload, or None."""
        with self._answering():
            stored = self._redis.get(self._key(f"record:{key}"))
        return None if stored is None else str(stored)

    def delete_record(self, key: str) -> None:
        """Remove one record."""
        with self._answering():
            self._redis.delete(self._key(f"record:{key}"))

    def close(self) -> None:
        """Close the connection pool."""
        self._redis.close()


__all__ = ["RedisBudgetBackend"]
