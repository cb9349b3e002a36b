"""The catalog: coverage of every documented type, reproducible build, lazy loading, merged facts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_stitch.connectors import (
    UnknownConnectionTypeError,
    credential_properties,
    get_connector,
    list_connectors,
    normalise_type,
    summary_table_types,
)
from airflow_provider_stitch.connectors.catalog import CATALOG_PATH

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO.parent / "shared" / "reference"
#: Facts extracted from the reference into the repository (tools/extract_doc_examples.py).
DOC_EXAMPLES = REPO / "tests" / "data" / "stitch_docs_examples.json"


def test_summary_table_has_121_types_113_sources_8_destinations() -> None:
    types = summary_table_types()
    assert len(types) == 121
    kinds = [get_connector(t).kind for t in types]
    assert kinds.count("source") == 113
    assert kinds.count("destination") == 8


def test_every_summary_type_is_in_the_catalog_and_flagged() -> None:
    for connection_type in summary_table_types():
        assert get_connector(connection_type).in_summary_table


def test_catalog_covers_the_stitch_docs_only_types() -> None:
    names = {c.type for c in list_connectors()}
    for extra in (
        "platform.ga4",
        "platform.hp-mysql",
        "platform.hp-postgres",
        "platform.hp-cloudsql-pg",
        "mysql_destination",
        "mssql_server",
        "dataworld",
    ):
        assert extra in names
    assert len(names) == 142


def test_every_stitch_docs_form_file_type_is_present() -> None:
    names = {c.type for c in list_connectors()}
    form_types = json.loads(DOC_EXAMPLES.read_text())["form_types"]
    assert len(form_types) == 142
    assert set(form_types) <= names


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="../shared/reference is not present")
def test_the_extracted_doc_examples_match_the_reference(tmp_path: Path) -> None:
    output = tmp_path / "examples.json"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "extract_doc_examples.py"),
            str(REFERENCE),
            "--output",
            str(output),
        ],
        check=True,
        capture_output=True,
    )
    assert output.read_bytes() == DOC_EXAMPLES.read_bytes()


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="../shared/reference is not present")
def test_rebuilding_the_catalog_is_byte_identical(tmp_path: Path) -> None:
    output = tmp_path / "catalog.json"
    subprocess.run(
        [sys.executable, str(REPO / "tools" / "build_catalog.py"), str(REFERENCE), "--output", str(output)],
        check=True,
        capture_output=True,
    )
    assert output.read_bytes() == CATALOG_PATH.read_bytes()


def test_importing_the_package_does_not_load_the_catalog_or_airflow() -> None:
    code = (
        "import sys, airflow_provider_stitch.connectors as c\n"
        "from airflow_provider_stitch.connectors.catalog import load_catalog_document\n"
        "assert load_catalog_document.cache_info().currsize == 0\n"
        "assert not any(m == 'airflow' or m.startswith('airflow.') for m in sys.modules)\n"
        "c.get_connector('hubspot')\n"
        "assert load_catalog_document.cache_info().currsize == 1\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "ok"


def test_catalog_keys_are_sorted_for_stable_rebuilds() -> None:
    text = CATALOG_PATH.read_text()
    document = json.loads(text)
    assert json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n" == text


def test_short_form_is_normalised_and_exact_names_win() -> None:
    assert normalise_type("hubspot") == "platform.hubspot"
    assert normalise_type(" platform.hubspot ") == "platform.hubspot"
    assert normalise_type("postgres") == "postgres"
    assert get_connector("postgres").kind == "destination"
    assert get_connector("platform.postgres").kind == "source"


def test_unknown_type_names_the_closest_types() -> None:
    with pytest.raises(UnknownConnectionTypeError) as info:
        get_connector("platform.hubspto")
    assert "platform.hubspot" in str(info.value)
    assert info.value.suggestions[0] == "platform.hubspot"
    assert isinstance(info.value, KeyError)
    assert isinstance(info.value, ValueError)


def test_connector_spec_attributes_for_an_oauth_source() -> None:
    spec = get_connector("platform.hubspot")
    assert spec.type == "platform.hubspot"
    assert spec.display_name == "HubSpot"
    assert spec.kind == "source"
    assert spec.is_database is False
    assert spec.steps == ["form", "oauth", "discover_schema", "field_selection", "fully_configured"]
    refresh = spec.property("refresh_token")
    assert refresh is not None
    assert (refresh.step, refresh.requirement, refresh.credential) == ("oauth", "required", True)
    assert refresh.property_type == "system_provided_by_default"
    assert spec.property("start_date").property_type == "user_provided"
    assert spec.property("image_version").property_type == "read_only"
    assert spec.property("no_such_thing") is None


def test_destinations_have_form_and_fully_configured_steps() -> None:
    for spec in list_connectors("destination"):
        assert spec.steps[0] == "form"
        assert spec.kind == "destination"
    assert get_connector("redshift").steps == ["form", "fully_configured"]


def test_list_connectors_filters_by_kind_and_rejects_others() -> None:
    assert len(list_connectors("source")) + len(list_connectors("destination")) == len(list_connectors())
    with pytest.raises(ValueError, match="kind must be"):
        list_connectors("warehouse")


def test_deprecated_types_name_their_replacement() -> None:
    postgres = get_connector("platform.postgres")
    assert postgres.deprecated is True
    assert postgres.replacement == "platform.hp-postgres"
    assert get_connector("platform.cloudsql_pg").replacement == "platform.hp-cloudsql-pg"
    assert get_connector("platform.hp-postgres").deprecated is False
    assert get_connector("platform.hp-postgres").replacement is None


def test_database_port_is_integer_typed_with_documented_default() -> None:
    aurora = get_connector("platform.aurora")
    port = aurora.property("port")
    assert (port.datatype, port.rule, port.default) == ("integer", "port", "3306")
    assert aurora.is_database is True
    assert get_connector("platform.heroku_pg").property("port").default == "5432"
    assert get_connector("redshift").property("port").default == "5439"


def test_conditional_requirements_of_ssh_and_encryption_fields() -> None:
    assert get_connector("platform.mysql").property("ssh_host").required_when == {
        "property": "ssh",
        "equals": "true",
    }
    assert get_connector("redshift").property("encryption_username").required_when == {
        "property": "encryption_type",
        "equals": "ssh",
    }


def test_enums_recovered_from_stitch_docs() -> None:
    assert get_connector("s3").property("output_file_format").enum == ("csv", "jsonl")
    assert get_connector("redshift").property("encryption_type").enum == ("none", "ssh")
    assert get_connector("bigquery_v2").property("loading_mode").enum is not None
    assert "LOG_BASED" in get_connector("platform.oracle").property("default_replication_method").enum


def test_json_in_string_properties() -> None:
    assert get_connector("platform.s3-csv").property("tables").json_in_string is True
    assert get_connector("platform.ga360").property("service_account_json").json_in_string is True
    assert get_connector("platform.sftp").property("tables").json_in_string is True


def test_disagreements_are_recorded_as_notes() -> None:
    notes = get_connector("platform.aurora").notes
    assert any(note.startswith("filter_dbs: the docs text marks it internal") for note in notes)
    assert any("start_date" in note for note in get_connector("platform.ebay").notes)
    assert get_connector("platform.ebay").property("start_date").requirement == "optional"


def test_credential_properties() -> None:
    assert credential_properties("platform.hubspot") == frozenset(
        {"client_id", "client_secret", "redirect_uri", "refresh_token"}
    )
    assert "password" in credential_properties("platform.postgres")
    assert "sentinel_key" in credential_properties("s3")
    for spec in list_connectors():
        if spec.property("password") is not None:
            assert "password" in credential_properties(spec.type), spec.type


def test_every_property_has_a_known_requirement_step_and_property_type() -> None:
    for connector in list_connectors():
        for spec in connector.properties:
            assert spec.requirement in ("required", "optional", "internal", "read_only")
            assert spec.step in ("form", "oauth")
            assert spec.property_type in (
                "user_provided",
                "system_provided_by_default",
                "read_only",
                "user_provided_immutable",
                "user_provided_advanced",
            )
