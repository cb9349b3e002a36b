"""A Jobs budget backend in Redis, for workers and triggerers on several hosts (extra ``redis``).

Taken requests are members of one sorted set per budget key, scored by the time they were taken; a Lua
script prunes, counts and adds in one atomic step, so any number of processes share one window.
"""

from __future__ import annotations

import uuid
from typing import Any

#: Prunes the window, then takes a token when there is room; answers "0" or the seconds until one frees.
_TAKE_SCRIPT = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count < limit then
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('EXPIRE', key, math.ceil(window) + 60)
  return '0'
end
local freeing = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
local wait = tonumber(freeing[2]) + window - now
if wait < 0.000001 then wait = 0.000001 end
return tostring(wait)
"""

#: How long a stored snapshot may stay unread before Redis drops it (seconds).
SNAPSHOT_TTL = 24 * 3600


class RedisBudgetBackend:
    """Budget storage shared through a Redis server.

    :param url: ``redis://`` (or ``rediss://``, ``unix://``) URL of the server.
    :param prefix: prefix of every key this backend writes.
    :param client: a ready ``redis.Redis`` client instead of ``url`` (tests, custom pools).
    """

    def __init__(
        self, url: str | None = None, *, prefix: str = "airflow-provider-stitch:", client: Any = None
    ):
        if client is None:
            if not url:
                raise ValueError("RedisBudgetBackend needs a redis:// URL")
            try:
                import redis
            except ImportError as missing:
                raise ImportError(
                    "the redis budget backend needs the redis package: pip install 'airflow-provider-stitch[redis]'"
                ) from missing
            client = redis.Redis.from_url(url, decode_responses=True)
        self._redis = client
        self.prefix = prefix
        self._take = client.register_script(_TAKE_SCRIPT)

    def __repr__(self) -> str:
        return f"RedisBudgetBackend(prefix={self.prefix!r})"

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def take(self, key: str, limit: int, window: float, now: float) -> float:
        """Atomically take one token: 0.0 when taken, else seconds until one frees up."""
        member = f"{now!r}:{uuid.uuid4().hex}"
        answer = self._take(
            keys=[self._key(key)], args=[limit, repr(float(window)), repr(float(now)), member]
        )
        return float(answer)

    def timestamps(self, key: str, window: float, now: float) -> list[float]:
        """Times of the tokens taken within the window ending at ``now``, oldest first."""
        entries = self._redis.zrangebyscore(self._key(key), f"({now - window!r}", "+inf", withscores=True)
        return [float(score) for _, score in entries]

    def put_snapshot(self, key: str, payload: str, fetched_at: float) -> None:
        """Store a shared snapshot."""
        name = self._key(f"snapshot:{key}")
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(name, mapping={"payload": payload, "fetched_at": repr(float(fetched_at))})
        pipe.expire(name, SNAPSHOT_TTL)
        pipe.execute()

    def get_snapshot(self, key: str) -> tuple[str, float] | None:
        """Read a shared snapshot, or None."""
        stored = self._redis.hgetall(self._key(f"snapshot:{key}"))
        if not stored or "payload" not in stored:
            return None
        return str(stored["payload"]), float(stored.get("fetched_at") or 0.0)

    def close(self) -> None:
        """Close the connection pool."""
        self._redis.close()


__all__ = ["RedisBudgetBackend"]
