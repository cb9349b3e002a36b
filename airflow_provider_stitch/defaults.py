"""Airflow-facing defaults shared by the hook, the operators, the sensors and the triggers."""

from __future__ import annotations

#: Connection id every Stitch task and the hook use unless given ``stitch_conn_id``.
DEFAULT_CONN_ID = "stitch_default"
#: XCom key under which the start-replication operator leaves its job: ``job_name``, ``source_id`` and the
#: row Stitch listed before the start (``previous_job``, ``previous_known``).
STITCH_JOB_XCOM_KEY = "stitch_job"


def default_deferrable() -> bool:
    """The ``[operators] default_deferrable`` setting (False when unset)."""
    from airflow.providers.common.compat.sdk import conf

    return conf.getboolean("operators", "default_deferrable", fallback=False)
