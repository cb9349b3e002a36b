"""Every answer of the emulator names its clock speed in ``X-Stitch-Emulator-Speed``; so does its control API."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from airflow_provider_stitch.emulator import StitchEmulator
from airflow_provider_stitch.emulator.clock import speed_text

HEADER = "X-Stitch-Emulator-Speed"


@pytest.fixture(scope="module")
def fast_emulator() -> Iterator[StitchEmulator]:
    with StitchEmulator(speed=2.5, run_schedules=False) as emulator:
        yield emulator


@pytest.mark.parametrize(("speed", "text"), [(1.0, "1"), (10.0, "10"), (2.5, "2.5"), (0.125, "0.125")])
def test_speed_text(speed: float, text: str) -> None:
    assert speed_text(speed) == text
    assert float(text) == speed


def test_every_kind_of_answer_carries_the_speed(fast_emulator: StitchEmulator) -> None:
    emu = fast_emulator
    emu.control.reset()
    auth = {"Authorization": f"Bearer {emu.token}"}
    with httpx.Client(base_url=emu.base_url, timeout=10) as http:
        answers = {
            "ok": http.get("/v4/sources", headers=auth),
            "unauthorized": http.get("/v4/sources"),
            "bad body": http.post("/v4/sources", headers=auth, json={"type": ""}),
            "unknown path": http.get("/v4/no-such-endpoint", headers=auth),
            "unknown method": http.patch("/v4/sources", headers=auth),
            "jobs": http.get(f"/v4/{emu.client_id}/extractions", headers=auth),
            "control": http.get("/__emulator__/state"),
            "control refusal": http.post("/__emulator__/clock/advance", json={"seconds": -1}),
            "log download": http.get("/__logs__/nothing"),
        }
        emu.control.set_faults(pattern="^/v4/sources$", status=503, times=1)
        answers["arranged fault"] = http.get("/v4/sources", headers=auth)
        emu.control.set_faults(pattern="^/v4/sources$", action="malformed", times=1)
        answers["malformed"] = http.get("/v4/sources", headers=auth)
        emu.control.set_jobs_limit_mode("block", limit=1)
        http.get(f"/v4/{emu.client_id}/loads", headers=auth)
        answers["rate limited"] = http.get(f"/v4/{emu.client_id}/loads", headers=auth)
    statuses = {name: response.status_code for name, response in answers.items()}
    assert statuses == {
        "ok": 200,
        "unauthorized": 401,
        "bad body": 400,
        "unknown path": 404,
        "unknown method": 404,
        "jobs": 200,
        "control": 200,
        "control refusal": 400,
        "log download": 403,
        "arranged fault": 503,
        "malformed": 200,
        "rate limited": 429,
    }
    assert {name: response.headers.get(HEADER) for name, response in answers.items()} == {
        name: "2.5" for name in answers
    }
    # Exactly one header, not one per layer.
    assert all(len(response.headers.get_list(HEADER)) == 1 for response in answers.values())


def test_control_api_reports_the_speed(fast_emulator: StitchEmulator) -> None:
    assert fast_emulator.control.speed() == 2.5
    body = httpx.get(f"{fast_emulator.base_url}/__emulator__/speed").json()
    assert body == {"speed": 2.5, "header": HEADER, "mode": "real"}


def test_manual_clock_at_speed_one(emu: StitchEmulator, http: httpx.Client) -> None:
    assert http.get("/v4/sources").headers[HEADER] == "1"
    assert emu.control.speed() == 1.0
