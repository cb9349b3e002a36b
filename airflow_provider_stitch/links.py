"""Operator extra links to the Stitch web app, built from XCom without any API call.

An operator that knows a source pushes :data:`STITCH_SOURCE_XCOM_KEY` with
``{"client_id": <int>, "source_id": <int>}`` (see :func:`push_stitch_source`); :class:`StitchSourceLink`
turns that into the source's summary page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import BaseOperator, Context, TaskInstanceKey

#: Root of the Stitch web app; the only place its address is spelled.
STITCH_APP_URL = "https://app.stitchdata.com"
#: XCom key under which operators leave ``{"client_id": ..., "source_id": ...}`` for the link.
STITCH_SOURCE_XCOM_KEY = "stitch_source"


def source_summary_url(client_id: int | str, source_id: int | str) -> str:
    """The web-app page summarising one source.

    :param client_id: Stitch client (account) id.
    :param source_id: source id.
    """
    return f"{STITCH_APP_URL}/client/{client_id}/pipeline/v2/sources/{source_id}/summary"


def stitch_source_reference(client_id: int | None, source_id: int | None) -> dict[str, int] | None:
    """The small XCom value the link reads, or None when either id is unknown."""
    if client_id is None or source_id is None:
        return None
    return {"client_id": int(client_id), "source_id": int(source_id)}


def push_stitch_source(context: Context, client_id: int | None, source_id: int | None) -> None:
    """Leave the ids the "Stitch source" link needs in XCom (nothing when an id is unknown).

    :param context: the task's execution context.
    :param client_id: Stitch client id of the source's account.
    :param source_id: source id.
    """
    value = stitch_source_reference(client_id, source_id)
    if value is not None:
        context["ti"].xcom_push(key=STITCH_SOURCE_XCOM_KEY, value=value)


def url_from_reference(value: Any) -> str:
    """The summary URL for a pushed reference, or ``""`` when it is missing or malformed."""
    if not isinstance(value, dict):
        return ""
    client_id, source_id = str(value.get("client_id")), str(value.get("source_id"))
    if not (client_id.isdigit() and source_id.isdigit()):
        return ""
    return source_summary_url(client_id, source_id)


class StitchSourceLink(BaseOperatorLink):
    """Link from a task to the Stitch summary page of the source it worked on."""

    name = "Stitch source"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """Build the URL from the task's ``stitch_source`` XCom; empty when the task pushed none."""
        return url_from_reference(XCom.get_value(ti_key=ti_key, key=STITCH_SOURCE_XCOM_KEY))
