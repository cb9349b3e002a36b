"""Operator extra links to the Stitch web app (or the emulator's own pages), built from XCom without API calls.

A task that knows a source pushes :data:`STITCH_SOURCE_XCOM_KEY` with ``{"client_id", "source_id"}``, plus
``job_name`` when it knows an extraction and ``emulator_url`` when its connection is not on Stitch (see
:func:`push_stitch_source`). A destination task pushes :data:`STITCH_DESTINATION_XCOM_KEY` the same way.

On Stitch the links open app.stitchdata.com. A connection whose API host is not a ``stitchdata.com`` host is
the offline emulator, and the links open the read-only pages it serves at its base URL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

from airflow_provider_stitch.defaults import STITCH_JOB_XCOM_KEY

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import BaseOperator, Context, TaskInstanceKey

#: Root of the Stitch web app; the only place its address is spelled.
STITCH_APP_URL = "https://app.stitchdata.com"
#: The domain of Stitch's own API and app hosts.
STITCH_DOMAIN = "stitchdata.com"
#: XCom key under which tasks leave the source reference the links read.
STITCH_SOURCE_XCOM_KEY = "stitch_source"
#: XCom key under which destination tasks leave ``{"client_id", "destination_id"}``.
STITCH_DESTINATION_XCOM_KEY = "stitch_destination"
#: The emulator's read-only pages, under its base URL.
EMULATOR_SOURCE_PAGE = "/_emulator/sources/{source_id}"
EMULATOR_LOGS_PAGE = "/_emulator/extractions/{source_id}/{job_name}/logs"
EMULATOR_DESTINATION_PAGE = "/_emulator/destinations/{destination_id}"


def is_stitch_host(api_url: str) -> bool:
    """True when ``api_url`` is on Stitch itself (``stitchdata.com`` or a subdomain).

    :param api_url: the connection's API base URL.
    """
    host = (urlsplit(api_url).hostname or "").rstrip(".").lower()
    return host == STITCH_DOMAIN or host.endswith("." + STITCH_DOMAIN)


def _emulator_root(api_url: str | None) -> str | None:
    """The base URL of the emulator's pages, or None when the connection is on Stitch (or unusable)."""
    if not api_url or is_stitch_host(api_url):
        return None
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return api_url.rstrip("/")


def source_summary_url(client_id: int | str, source_id: int | str) -> str:
    """The web-app page summarising one source.

    :param client_id: Stitch client (account) id.
    :param source_id: source id.
    """
    return f"{STITCH_APP_URL}/client/{client_id}/pipeline/v2/sources/{source_id}/summary"


def pipeline_url(client_id: int | str) -> str:
    """The web-app page listing an account's sources and where they load.

    :param client_id: Stitch client (account) id.
    """
    return f"{STITCH_APP_URL}/client/{client_id}/pipeline/v2/sources"


def stitch_source_reference(
    client_id: int | None,
    source_id: int | None,
    *,
    api_url: str | None = None,
    job_name: str | None = None,
) -> dict[str, Any] | None:
    """The small XCom value the source links read, or None when either id is unknown.

    :param client_id: Stitch client id of the source's account.
    :param source_id: source id.
    :param api_url: the connection's API base URL (decides between Stitch's app and the emulator's pages).
    :param job_name: the extraction job the task started or waited for.
    """
    if client_id is None or source_id is None:
        return None
    value: dict[str, Any] = {"client_id": int(client_id), "source_id": int(source_id)}
    root = _emulator_root(api_url)
    if root:
        value["emulator_url"] = root
    if job_name:
        value["job_name"] = str(job_name)
    return value


def push_stitch_source(
    context: Context,
    client_id: int | None,
    source_id: int | None,
    *,
    api_url: str | None = None,
    job_name: str | None = None,
) -> None:
    """Leave the ids the "Stitch source" and "Extraction logs" links need in XCom (nothing when unknown).

    :param context: the task's execution context.
    :param client_id: Stitch client id of the source's account.
    :param source_id: source id.
    :param api_url: the connection's API base URL.
    :param job_name: the extraction job, when the task knows one.
    """
    value = stitch_source_reference(client_id, source_id, api_url=api_url, job_name=job_name)
    if value is not None:
        context["ti"].xcom_push(key=STITCH_SOURCE_XCOM_KEY, value=value)


def push_stitch_destination(
    context: Context, client_id: int | None, destination_id: int | None, *, api_url: str | None = None
) -> None:
    """Leave the ids the "Stitch destination" link needs in XCom (nothing when unknown).

    :param context: the task's execution context.
    :param client_id: Stitch client id of the destination's account.
    :param destination_id: destination id.
    :param api_url: the connection's API base URL.
    """
    if client_id is None or destination_id is None:
        return
    value: dict[str, Any] = {"client_id": int(client_id), "destination_id": int(destination_id)}
    root = _emulator_root(api_url)
    if root:
        value["emulator_url"] = root
    context["ti"].xcom_push(key=STITCH_DESTINATION_XCOM_KEY, value=value)


def _ids(value: Any, *names: str) -> list[str] | None:
    """The named ids of a pushed reference as digit strings, or None when one is missing or malformed."""
    if not isinstance(value, dict):
        return None
    ids = [str(value.get(name)) for name in names]
    return ids if all(i.isdigit() for i in ids) else None


def _root_of(value: dict[str, Any]) -> str | None:
    root = value.get("emulator_url")
    return _emulator_root(root) if isinstance(root, str) else None


def url_from_reference(value: Any) -> str:
    """The source page for a pushed reference, or ``""`` when it is missing or malformed."""
    ids = _ids(value, "client_id", "source_id")
    if ids is None:
        return ""
    root = _root_of(value)
    if root:
        return root + EMULATOR_SOURCE_PAGE.format(source_id=ids[1])
    return source_summary_url(*ids)


def logs_url_from_reference(value: Any, job_name: Any = None) -> str:
    """The extraction-logs page for a pushed reference, or ``""`` when no job or ids are known.

    Stitch's app shows an extraction's logs from the source's page (the app's URL of the logs view itself is
    not documented), so on Stitch this is the source page; on the emulator it is the job's own log page.

    :param value: the pushed source reference.
    :param job_name: the job, when the reference itself names none.
    """
    ids = _ids(value, "client_id", "source_id")
    job = value.get("job_name") if isinstance(value, dict) else None
    job = job or job_name
    if ids is None or not isinstance(job, str) or not job:
        return ""
    root = _root_of(value)
    if root:
        return root + EMULATOR_LOGS_PAGE.format(source_id=ids[1], job_name=quote(job, safe=""))
    return source_summary_url(*ids)


def destination_url_from_reference(value: Any) -> str:
    """The page for a pushed destination reference, or ``""`` when it is missing or malformed.

    Stitch's app URL of a destination's own settings is not documented; on Stitch the link opens the
    account's pipeline page, which lists the sources and where they load. On the emulator it opens the
    destination's own page.

    :param value: the pushed destination reference.
    """
    ids = _ids(value, "client_id", "destination_id")
    if ids is None:
        return ""
    root = _root_of(value)
    if root:
        return root + EMULATOR_DESTINATION_PAGE.format(destination_id=ids[1])
    return pipeline_url(ids[0])


class StitchSourceLink(BaseOperatorLink):
    """Link from a task to the page of the source it worked on."""

    name = "Stitch source"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """Build the URL from the task's ``stitch_source`` XCom; empty when the task pushed none."""
        return url_from_reference(XCom.get_value(ti_key=ti_key, key=STITCH_SOURCE_XCOM_KEY))


class StitchExtractionLogsLink(BaseOperatorLink):
    """Link from a task to the logs of the extraction it started or waited for."""

    name = "Extraction logs"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """Build the URL from the task's ``stitch_source`` XCom (its job, else the ``stitch_job`` XCom)."""
        reference = XCom.get_value(ti_key=ti_key, key=STITCH_SOURCE_XCOM_KEY)
        job: Any = None
        if not (isinstance(reference, dict) and reference.get("job_name")):
            started = XCom.get_value(ti_key=ti_key, key=STITCH_JOB_XCOM_KEY)
            job = started.get("job_name") if isinstance(started, dict) else None
        return logs_url_from_reference(reference, job)


class StitchDestinationLink(BaseOperatorLink):
    """Link from a destination task to the Stitch account's pipeline page (the emulator's destination page)."""

    name = "Stitch destination"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """Build the URL from the task's ``stitch_destination`` XCom; empty when the task pushed none."""
        return destination_url_from_reference(XCom.get_value(ti_key=ti_key, key=STITCH_DESTINATION_XCOM_KEY))
