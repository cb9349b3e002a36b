"""``python -m airflow_provider_stitch.emulator``: the same command as ``airflow-stitch emulator``."""

from __future__ import annotations

import sys

from airflow_provider_stitch.emulator.server import main

if __name__ == "__main__":
    sys.exit(main())
