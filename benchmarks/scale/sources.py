"""N ready sources in the emulator, created through the public API (none of it is a Jobs request)."""

from __future__ import annotations

import random
import time
from typing import Any

#: A PostgreSQL source as the examples configure one; the password suits the emulator only.
SOURCE_PROPERTIES: dict[str, Any] = {
    "host": "shop-db.example.com",
    "port": 5432,
    "user": "stitch_reader",
    "password": "emulator-only-password",
    "dbname": "shop",
    "include_schemas_in_destination_stream_name": "true",
    "frequency_in_minutes": "360",
}
#: Emulator seconds of each job's tap phase are drawn from this range, so jobs end spread out in time.
TAP_SECONDS = (60.0, 300.0)
CHECK_TIMEOUT = 120.0


def create_sources(client: Any, control: Any, count: int, *, seed: int = 15) -> list[int]:
    """Create ``count`` PostgreSQL sources, each with ``public-customers`` selected, and give each a tap time.

    :param client: a StitchClient on the emulator.
    :param control: the emulator's control client (to arrange job durations).
    :param count: how many sources.
    :param seed: seed of the drawn tap durations.
    """
    draw = random.Random(seed)
    ids = [
        int(client.create_source("platform.hp-postgres", f"Shop {number:03d}", dict(SOURCE_PROPERTIES)).id)
        for number in range(count)
    ]
    deadline = time.monotonic() + CHECK_TIMEOUT
    for source_id in ids:
        while client.get_last_connection_check(source_id).is_running:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the connection check of source {source_id} did not finish")
            time.sleep(0.1)
        streams = [s for s in client.list_streams(source_id) if s.tap_stream_id.endswith("public-customers")]
        if len(streams) != 1:
            raise RuntimeError(f"source {source_id} discovered no public-customers stream")
        client.update_stream_metadata(
            source_id,
            [
                {
                    "tap_stream_id": streams[0].tap_stream_id,
                    "metadata": [
                        {"breadcrumb": [], "metadata": {"selected": True, "replication-method": "FULL_TABLE"}}
                    ],
                }
            ],
        )
        control.arrange(
            source_id, durations={"discovery": 5.0, "tap": draw.uniform(*TAP_SECONDS), "target": 5.0}
        )
    return ids
