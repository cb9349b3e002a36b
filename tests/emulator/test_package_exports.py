"""The emulator package exports its public names lazily through the project's one lazy-export helper."""

from __future__ import annotations

import subprocess
import sys

import pytest

import airflow_provider_stitch.emulator as emulator_package
from airflow_provider_stitch.lazy_exports import lazy_getattr


def test_importing_the_package_loads_no_server_code() -> None:
    probe = (
        "import sys\n"
        "import airflow_provider_stitch.emulator\n"
        "heavy = [m for m in ('fastapi', 'uvicorn', 'httpx', 'airflow_provider_stitch.emulator.harness')\n"
        "         if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_public_names_resolve_to_their_modules() -> None:
    from airflow_provider_stitch.emulator.app import create_app
    from airflow_provider_stitch.emulator.harness import EmulatorControl, StitchEmulator
    from airflow_provider_stitch.emulator.state import EmulatorSettings

    assert emulator_package.StitchEmulator is StitchEmulator
    assert emulator_package.EmulatorControl is EmulatorControl
    assert emulator_package.EmulatorSettings is EmulatorSettings
    assert emulator_package.create_app is create_app
    assert sorted(emulator_package.__all__) == sorted(
        ["EmulatorControl", "EmulatorSettings", "StitchEmulator", "create_app"]
    )


def test_unknown_names_raise_attribute_error_naming_the_package() -> None:
    with pytest.raises(AttributeError, match="'airflow_provider_stitch.emulator' has no attribute 'Nope'"):
        emulator_package.Nope  # noqa: B018


def test_the_package_uses_the_shared_helper() -> None:
    helper = lazy_getattr("x", {}, {})
    assert emulator_package.__getattr__.__qualname__ == helper.__qualname__
    assert emulator_package.__getattr__.__module__ == "airflow_provider_stitch.lazy_exports"
