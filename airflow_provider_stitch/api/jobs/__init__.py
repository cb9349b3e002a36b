"""Waiting on Stitch's Jobs endpoints: decisions, shared snapshots and the per-account monitor."""

from airflow_provider_stitch.api.errors import StitchWaitTimeout
from airflow_provider_stitch.api.jobs.decisions import (
    EXTRACTIONS,
    LOADS,
    ExtractionOutcome,
    ExtractionWatch,
    LoadOutcome,
    LoadWatch,
    decide_extraction,
    decide_loads,
    load_identity,
    selected_stream_names,
    to_epoch,
)
from airflow_provider_stitch.api.jobs.monitor import (
    JobsMonitor,
    account_key,
    amonitor_for_client,
    forget_monitors,
    monitor_for,
    monitor_for_client,
)
from airflow_provider_stitch.api.jobs.schedule import Forecast, PageTurn, Plan
from airflow_provider_stitch.api.jobs.snapshots import KINDS, ListSnapshot, PageRead

__all__ = [
    "EXTRACTIONS",
    "LOADS",
    "ExtractionOutcome",
    "ExtractionWatch",
    "Forecast",
    "KINDS",
    "JobsMonitor",
    "ListSnapshot",
    "LoadOutcome",
    "LoadWatch",
    "PageRead",
    "PageTurn",
    "Plan",
    "StitchWaitTimeout",
    "account_key",
    "amonitor_for_client",
    "decide_extraction",
    "decide_loads",
    "load_identity",
    "forget_monitors",
    "monitor_for",
    "monitor_for_client",
    "selected_stream_names",
    "to_epoch",
]
