"""The emulator's read-only HTML pages: a source's page and an extraction's log page."""

from __future__ import annotations

from html.parser import HTMLParser

import httpx

from airflow_provider_stitch.emulator import StitchEmulator
from airflow_provider_stitch.emulator.pages import logs_page_path, source_page_path
from tests.emulator.emulator_helpers import PG_PROPERTIES, configured_postgres, create_postgres

SCRIPT_NAME = "<script>alert('x')</script>"


class _Collector(HTMLParser):
    """Tags, visible text and link targets of a page, as a browser would parse them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.links: list[str] = []
        self.heading = ""
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._open.append(tag)
        self.links += [value or "" for name, value in attrs if name == "href"]

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:
            del self._open[len(self._open) - 1 - self._open[::-1].index(tag) :]

    def handle_data(self, data: str) -> None:
        where = self._open[-1] if self._open else ""
        if where in ("style", "title") or not data.strip():
            return
        if where == "h1":
            self.heading += data
        self.text.append(data.strip())


def _parse(response: httpx.Response) -> _Collector:
    collector = _Collector()
    collector.feed(response.text)
    return collector


def test_source_page_shows_set_up_streams_extractions_and_loads(
    emu: StitchEmulator, http: httpx.Client
) -> None:
    source = configured_postgres(emu, http, "Orders DB")
    emu.control.arrange(source["id"], load_error={"message": "disk full on the warehouse", "streams": []})
    job = http.post(f"/v4/sources/{source['id']}/sync").json()["job_name"]
    emu.control.advance(30)
    second = http.post(f"/v4/sources/{source['id']}/sync").json()["job_name"]
    emu.control.advance(1)
    page = httpx.get(emu.base_url + source_page_path(source["id"]))
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "script-src" not in page.headers["content-security-policy"]
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    parsed = _parse(page)
    text = " | ".join(parsed.text)
    assert parsed.heading == "Orders DB"
    assert "fully_configured (current)" in text
    assert "Set-up step | fully_configured" in text
    # Streams with their selection and replication method.
    assert "shop-public-customers | selected | INCREMENTAL | updated_at" in text
    assert "shop-public-orders | never selected" in text
    # Recent extractions, newest first, each with a link to its logs.
    assert text.index(second) < text.index(job)
    assert f"{second} | " in text and "running (discovery)" in text
    assert "succeeded" in text
    assert logs_page_path(source["id"], job) in parsed.links
    # Loads, with the warehouse's message; the password is nowhere.
    assert "customers" in text and "disk full on the warehouse" in text
    assert PG_PROPERTIES["password"] not in page.text
    assert "db.internal" in text


def test_names_and_messages_are_escaped(emu: StitchEmulator, http: httpx.Client) -> None:
    source = create_postgres(http, SCRIPT_NAME)
    emu.control.arrange(source["id"], check_error="<img src=x onerror=alert(1)> refused")
    emu.control.advance(5)
    page = httpx.get(emu.base_url + source_page_path(source["id"]))
    parsed = _parse(page)
    assert "script" not in parsed.tags and "img" not in parsed.tags
    assert parsed.heading == SCRIPT_NAME
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page.text
    assert any("<img src=x onerror=alert(1)> refused" in chunk for chunk in parsed.text)


def test_log_page_shows_the_extractions_log_text_escaped(emu: StitchEmulator, http: httpx.Client) -> None:
    source = configured_postgres(emu, http)
    emu.control.arrange(source["id"], fail={"phase": "tap", "message": "</pre><script>steal()</script>"})
    job = http.post(f"/v4/sources/{source['id']}/sync").json()["job_name"]
    emu.control.advance(30)
    page = httpx.get(emu.base_url + logs_page_path(source["id"], job))
    assert page.status_code == 200
    parsed = _parse(page)
    assert parsed.tags.count("pre") == 1 and "script" not in parsed.tags
    (log_text,) = [chunk for chunk in parsed.text if f"main INFO Starting {job}" in chunk]
    assert "tap ERROR tap exited with 1: </pre><script>steal()</script>" in log_text
    assert f"main INFO {job} finished" in log_text
    assert source_page_path(source["id"]) in parsed.links


def test_unknown_pages_answer_404_in_html(emu: StitchEmulator, http: httpx.Client) -> None:
    source = configured_postgres(emu, http)
    other = configured_postgres(emu, http, "Other DB")
    job = http.post(f"/v4/sources/{other['id']}/sync").json()["job_name"]
    answers = [
        httpx.get(emu.base_url + source_page_path(999999)),
        httpx.get(emu.base_url + "/_emulator/sources/not-a-number"),
        httpx.get(emu.base_url + logs_page_path(source["id"], "116078.1.sync.none")),
        httpx.get(emu.base_url + logs_page_path(source["id"], job)),  # a job of another source
    ]
    assert [answer.status_code for answer in answers] == [404, 404, 404, 404]
    assert all(answer.headers["content-type"].startswith("text/html") for answer in answers)
    assert "This emulator has no source 999999." in answers[0].text


def test_pages_are_not_api_requests(emu: StitchEmulator, http: httpx.Client) -> None:
    source = configured_postgres(emu, http)
    before = emu.control.stats(include_log=False)["requests"]["total"]
    emu.control.set_faults(pattern=".*", status=500)
    assert httpx.get(emu.base_url + source_page_path(source["id"])).status_code == 200
    emu.control.clear_faults()
    assert emu.control.stats(include_log=False)["requests"]["total"] == before
