"""Helpers of ``benchmarks/scale.py``: the deployment, the sources, the measurements and the drills."""
