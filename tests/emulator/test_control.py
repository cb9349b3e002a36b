"""Control API: faults, stats and the Jobs window, the Jobs limit modes, reset, state, clock."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from airflow_provider_stitch.api.client import StitchClient
from airflow_provider_stitch.api.errors import StitchTransportError
from airflow_provider_stitch.emulator import StitchEmulator
from tests.emulator.emulator_helpers import create_postgres


def test_status_fault_for_next_n_requests(emu: StitchEmulator, http: httpx.Client) -> None:
    (rule,) = emu.control.set_faults(pattern=r"^/v4/sources$", method="GET", status=502, times=2)
    assert rule["id"] >= 1
    assert [http.get("/v4/sources").status_code for _ in range(3)] == [502, 502, 200]
    assert http.post("/v4/sources", json={}).status_code == 400
    assert emu.control.faults()[0]["hits"] == 2


def test_rate_fault_is_repeatable_with_a_seed(emu: StitchEmulator, http: httpx.Client) -> None:
    outcomes = []
    for _ in range(2):
        emu.control.clear_faults()
        emu.control.set_faults(pattern="/v4/sources", status=500, rate=0.5, seed=7)
        outcomes.append([http.get("/v4/sources").status_code for _ in range(12)])
    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0]) == {200, 500}


def test_client_retries_through_a_transient_fault(emu: StitchEmulator) -> None:
    emu.control.set_faults(pattern="/v4/sources", status=502, times=2)
    with StitchClient(
        emu.token, base_url=emu.base_url, client_id=emu.client_id, retry_sleep=lambda s: None
    ) as c:
        assert c.list_sources() == []
    assert emu.control.stats(include_log=False)["requests"]["other"] == 3


def test_delay_fault_answers_late(emu: StitchEmulator, http: httpx.Client) -> None:
    emu.control.set_faults(pattern="/v4/sources", action="delay", delay=0.3, times=1)
    started = time.monotonic()
    assert http.get("/v4/sources").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_hang_times_out_without_blocking_others(emu: StitchEmulator, http: httpx.Client) -> None:
    emu.control.set_faults(pattern="/v4/destinations", action="hang")
    with pytest.raises(httpx.ReadTimeout):
        http.get("/v4/destinations", timeout=0.3)
    assert http.get("/v4/sources").status_code == 200


def test_drop_and_malformed(emu: StitchEmulator, http: httpx.Client, client: StitchClient) -> None:
    emu.control.set_faults(pattern="/v4/sources$", action="drop", times=1)
    with pytest.raises(StitchTransportError):
        client.list_sources()
    emu.control.set_faults(pattern="/v4/destinations$", action="malformed", times=1)
    response = http.get("/v4/destinations")
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_lose_processes_the_request_but_no_answer_arrives(emu: StitchEmulator, http: httpx.Client) -> None:
    emu.control.set_faults(pattern=r"^/v4/sources$", method="POST", action="lose", times=1)
    body = {"type": "platform.hp-postgres", "display_name": "Lost Answer", "properties": {}}
    with pytest.raises(httpx.RemoteProtocolError):
        http.post("/v4/sources", json=body)
    # The create took effect although the client never heard back.
    assert [s["display_name"] for s in http.get("/v4/sources").json()] == ["Lost Answer"]
    lost = [e for e in emu.control.stats()["log"] if e["method"] == "POST"]
    assert [e["status"] for e in lost] == ["lost 200"]


def test_reset_drops_requests_still_held_by_a_delay(emu: StitchEmulator) -> None:
    """A request held past a reset must not land in the next test's state or counters."""
    emu.control.set_faults(pattern=r"^/v4/sources$", method="POST", action="delay", delay=0.5)
    body = {"type": "platform.hp-postgres", "display_name": "Held", "properties": {}}
    outcome: list[BaseException | int] = []

    def send_held_create() -> None:
        headers = {"Authorization": f"Bearer {emu.token}"}
        try:
            outcome.append(httpx.post(f"{emu.base_url}/v4/sources", json=body, headers=headers).status_code)
        except httpx.HTTPError as exc:
            outcome.append(exc)

    sender = threading.Thread(target=send_held_create)
    sender.start()
    deadline = time.monotonic() + 5
    while not emu.control.faults()[0]["hits"]:
        assert time.monotonic() < deadline, "the held request never arrived"
        time.sleep(0.02)
    emu.control.reset()
    sender.join(timeout=5)

    assert isinstance(outcome[0], httpx.RemoteProtocolError)
    assert emu.control.state()["accounts"][0]["sources"] == []
    assert emu.control.stats()["requests"]["total"] == 0


def test_bad_fault_is_refused(emu: StitchEmulator) -> None:
    with pytest.raises(ValueError, match="fault action"):
        emu.control.set_faults(pattern="x", action="explode")
    with pytest.raises(ValueError, match="regular expression"):
        emu.control.set_faults(pattern="(")


def test_stats_count_groups_and_sliding_window(emu: StitchEmulator, http: httpx.Client) -> None:
    http.get("/v4/sources")
    for _ in range(4):
        http.get("/v4/116078/extractions")
    emu.control.advance(601)
    for _ in range(3):
        http.get("/v4/116078/loads")
    stats = emu.control.stats()
    assert stats["requests"] == {"jobs": 7, "other": 1, "total": 8}, stats["log"]
    assert stats["by_client"]["116078"]["max_jobs_in_window"] == 4
    assert stats["max_jobs_in_window"] == 4
    entry = stats["log"][-1]
    assert entry["path"] == "/v4/116078/loads" and entry["status"] == 200 and entry["group"] == "jobs"
    assert emu.token not in json.dumps(stats)


def test_block_mode_refuses_until_the_window_frees(emu: StitchEmulator, http: httpx.Client) -> None:
    emu.control.set_jobs_limit_mode("block", limit=3, window_seconds=600, status=429)
    codes = [http.get("/v4/116078/extractions").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    assert http.get("/v4/116078/loads").json()["error"]["type"] == "rate_limited"
    emu.control.advance(600)
    assert http.get("/v4/116078/loads").status_code == 200
    assert emu.control.stats(include_log=False)["by_client"]["116078"]["blocked"] == 3


def test_count_mode_never_refuses(emu: StitchEmulator, http: httpx.Client) -> None:
    assert all(http.get("/v4/116078/loads").status_code == 200 for _ in range(35))
    assert emu.control.stats(include_log=False)["max_jobs_in_window"] == 35


def test_state_masks_credentials_and_reset_forgets(emu: StitchEmulator, http: httpx.Client) -> None:
    source = create_postgres(http)
    state = emu.control.state()
    (account,) = state["accounts"]
    assert account["token"] == "***"
    assert account["sources"][0]["properties"]["password"] == "***"
    assert "s3cret-pg" not in json.dumps(state) and emu.token not in json.dumps(state)
    emu.control.reset()
    assert emu.control.state()["accounts"][0]["sources"] == []
    assert http.get(f"/v4/sources/{source['id']}").status_code == 404


def test_clock_is_manual_and_only_moves_forward(emu: StitchEmulator) -> None:
    now = emu.control.now()
    time.sleep(0.05)
    assert emu.control.now() == now
    assert emu.control.advance(30) == now + 30
    with pytest.raises(ValueError):
        emu.control.advance(-1)


def test_real_clock_runs_at_speed() -> None:
    with StitchEmulator(speed=100.0) as fast:
        start = fast.control.now()
        time.sleep(0.1)
        assert fast.control.now() - start >= 9
