"""Models parse the documented example responses and tolerate what the docs disagree on."""

from __future__ import annotations

import pytest

from airflow_provider_stitch.api import models
from tests.api.stitch_api_testkit import code_example, doc_examples

OBJECT_EXAMPLES = [
    ("accounts/account-object.md", models.Account),
    ("accounts/create-an-account.md", models.Account),
    ("connection-checks/connection-check-object-v4.md", models.ConnectionCheck),
    ("connection-steps/connection-step-object.md", models.ConnectionStep),
    ("destination-types/destination-types-object.md", models.ReportCard),
    ("destination-types/get-a-destination-type.md", models.ReportCard),
    ("destination-types/list-destination-types.md", models.ReportCard),
    ("destinations/v3/create-a-destination-v3.md", models.Destination),
    ("destinations/v3/destination-object-v3.md", models.Destination),
    ("destinations/v3/list-destinations-v3.md", models.Destination),
    ("destinations/v4/create-a-destination-v4.md", models.Destination),
    ("destinations/v4/destination-object-v4.md", models.Destination),
    ("destinations/v4/list-destinations-v4.md", models.Destination),
    ("destinations/v4/update-a-destination-v4.md", models.Destination),
    ("extractions/extraction-object.md", models.Extraction),
    ("import-api-access-tokens/generate-import-api-access-token.md", models.ImportApiToken),
    ("import-api-access-tokens/get-import-api-access-token-ids.md", models.ImportApiToken),
    ("import-api-access-tokens/import-api-access-token.md", models.ImportApiToken),
    ("loads/load-object.md", models.Load),
    ("metadata/metadata-object.md", models.StreamSchema),
    ("notifications/custom-emails/create-custom-email-recipient.md", models.CustomEmail),
    ("notifications/custom-emails/custom-email-notification-object.md", models.CustomEmail),
    ("notifications/custom-emails/list-custom-notification-recipients.md", models.CustomEmail),
    ("notifications/custom-emails/disable-custom-notification-recipient.md", models.DisabledAtResponse),
    ("notifications/custom-emails/re-enable-custom-notification-recipient.md", models.DisabledAtResponse),
    ("notifications/post-load-hooks/hook-notification-object.md", models.PostLoadHook),
    ("notifications/post-load-hooks/disable-hook-notification.md", models.PostLoadHook),
    ("notifications/post-load-hooks/enable-hook-notification.md", models.PostLoadHook),
    ("properties/properties-object.md", models.ReportCardProperty),
    ("replication-jobs/replication-job-object.md", models.SyncJob),
    ("replication-jobs/stop-replication-job.md", models.StatusResponse),
    ("report-cards/destinations/destination-report-card-object.md", models.ReportCard),
    ("report-cards/sources/source-report-card-object.md", models.ReportCard),
    ("schedule/schedule-object.md", models.Schedule),
    ("sessions/create-a-session.md", models.Session),
    ("sessions/sessions-object.md", models.Session),
    ("source-types/get-a-source-type.md", models.ReportCard),
    ("source-types/list-source-types.md", models.ReportCard),
    ("source-types/source-types-object.md", models.ReportCard),
    ("sources/create-a-source.md", models.Source),
    ("sources/delete-a-source.md", models.Source),
    ("sources/pause-a-source.md", models.Source),
    ("sources/retrieve-a-source.md", models.Source),
    ("sources/sources-object.md", models.Source),
    ("sources/unpause-a-source.md", models.Source),
    ("sources/update-a-source.md", models.Source),
    ("stream-schemas/stream-schema-object.md", models.StreamSchema),
    ("streams/retrieve-a-streams-schema-v4.md", models.StreamSchema),
    ("streams/streams-object-v4.md", models.Stream),
]


@pytest.mark.parametrize(("page", "model"), OBJECT_EXAMPLES, ids=[p for p, _ in OBJECT_EXAMPLES])
def test_documented_examples_parse(page, model):
    examples = [(label, body) for label, body in doc_examples(page) if label != "Request"]
    assert examples, f"no JSON example found in {page}"
    for _label, body in examples:
        items = body if isinstance(body, list) else [body]
        parsed = [model.model_validate(item) for item in items]
        assert parsed


def test_source_example_fields():
    (_, body) = doc_examples("sources/retrieve-a-source.md")[0]
    source = models.Source.model_validate(body)
    assert isinstance(source.id, int) and source.stitch_client_id == 116078
    assert source.report_card is not None and source.report_card.current_step_type
    assert source.id == 120643 and source.type == "platform.adwords"
    assert source.is_deleted is (source.deleted_at is not None)


def test_extraction_accepts_source_type_or_tap_name():
    successful = dict(doc_examples("extractions/extraction-object.md")[0][1])
    extraction = models.Extraction.model_validate(successful)
    assert extraction.source_type == "tap-recurly"
    assert extraction.succeeded and extraction.is_finished
    successful["tap_name"] = successful.pop("source_type")
    assert models.Extraction.model_validate(successful).source_type == "tap-recurly"
    failed = models.Extraction.model_validate(doc_examples("extractions/extraction-object.md")[1][1])
    assert failed.tap_exit_status == 1 and not failed.succeeded and failed.is_finished
    running = models.Extraction.model_validate({"source_id": 1, "tap_exit_status": None})
    assert running.is_finished is False


def test_load_keeps_error_state():
    unsuccessful = doc_examples("loads/load-object.md")[1][1]
    load = models.Load.model_validate(unsuccessful)
    assert load.last_batch_loaded_at is None
    assert load.error_state["notification_data"]["error"] == "LOADER_WAREHOUSE_ERROR"


def test_stream_schema_parses_schema_text():
    body = code_example("streams.yml", "saas-stream-schema")
    assert isinstance(body["schema"], str)
    schema = models.StreamSchema.model_validate(body)
    assert schema.json_schema["type"] in ("object", ["null", "object"])
    assert "selected" in schema.non_discoverable_metadata_keys
    assert schema.metadata[0].breadcrumb == [] or any(e.breadcrumb == [] for e in schema.metadata)
    assert isinstance(schema.stream_metadata, dict)


def test_connection_check_examples():
    failed = models.ConnectionCheck.model_validate(code_example("connection-checks.yml", "failed"))
    assert failed.status == "failed" and failed.error is True and failed.discovery_exit_status == 1
    assert failed.is_running is False
    ok = models.ConnectionCheck.model_validate(code_example("connection-checks.yml", "successful"))
    assert ok.status == "succeeded"


def test_import_token_list_in_both_documented_forms():
    bare = [models.ImportApiToken.model_validate(i) for i in [815713587]]
    assert bare[0].id == 815713587
    objects = models.ImportApiToken.model_validate({"token_id": 5, "created_at": "2021-08-19T00:00:00Z"})
    assert objects.id == 5 and objects.created_at.year == 2021


def test_secrets_are_not_in_reprs():
    account = models.Account(access_token="at_secret_value", stitch_account_id=1)
    token = models.ImportApiToken.model_validate({"id": 1, "access_token": "import_secret"})
    session = models.Session(ephemeral_token="eph_secret")
    for obj, secret in ((account, "at_secret_value"), (token, "import_secret"), (session, "eph_secret")):
        assert secret not in repr(obj) and secret not in str(obj)


def test_unknown_fields_are_kept_and_enums_are_open():
    source = models.Source.model_validate(
        {"id": 1, "brand_new": {"x": 1}, "report_card": {"current_step_type": "new_step"}}
    )
    assert source.model_extra == {"brand_new": {"x": 1}}
    assert source.report_card.current_step_type == "new_step"


def test_report_card_helpers():
    card = models.ReportCard.model_validate(
        {
            "steps": [
                {"type": "form", "properties": [{"name": "host"}]},
                {"type": "oauth", "properties": [{"name": "x"}]},
            ]
        }
    )
    assert [p.name for p in card.properties] == ["host", "x"]
    assert card.step("oauth").properties[0].name == "x"
    assert card.step("missing") is None


def test_jobs_page_envelope():
    page = models.JobsPage.model_validate({"data": [{"source_id": 1}], "page": 1, "total": 1, "links": None})
    assert page.next_path is None
    page = models.JobsPage.model_validate({"data": [], "links": {"next": "/v4/1/extractions?page=2"}})
    assert page.next_path == "/v4/1/extractions?page=2"
