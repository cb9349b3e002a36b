"""The host name Airflow records for a harness component: each Celery worker and triggerer stands in for a
machine of its own, so Airflow's ``[core] hostname_callable`` points here and the harness names each one."""

from __future__ import annotations

import os
import socket

#: Environment variable holding the name the harness gave a component (``celery-worker-1``, ``triggerer-2``).
HOST_VARIABLE = "STITCH_SCALE_HOST"
#: What ``[core] hostname_callable`` is set to in the components' environment.
HOSTNAME_CALLABLE = "scale.host.harness_host"


def harness_host() -> str:
    """The component's name from the harness, else this machine's name (for anything else that reads it)."""
    return os.environ.get(HOST_VARIABLE) or socket.getfqdn()
