"""The emulator-speed probe of a plain-http loopback URL loads no certificate store (each new process would
pay tens of milliseconds for it, e.g. every poke of a sensor in reschedule mode)."""

from __future__ import annotations

import ssl

from airflow_provider_stitch.api.emulator_speed import reported_speed
from airflow_provider_stitch.emulator import StitchEmulator


def test_a_plain_http_probe_loads_no_certificate_store(monkeypatch):
    def no_store(*args: object, **kwargs: object) -> ssl.SSLContext:
        raise AssertionError("a certificate store was loaded for a plain-http probe")

    with StitchEmulator(speed=10, client_id=7) as emulator:
        monkeypatch.setattr(ssl, "create_default_context", no_store)
        assert emulator.base_url.startswith("http://")
        assert reported_speed(emulator.base_url) == 10.0
