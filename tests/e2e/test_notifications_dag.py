"""stitch_notifications on a real Airflow: recipients and the post-load hook exist once, even after a re-run."""

from __future__ import annotations

from typing import Any


def test_notifications_dag_manages_recipients_and_hook_idempotently(run_dag: Any, stitch_client: Any) -> None:
    former = stitch_client.create_custom_email("former-analyst@example.com")
    hook = stitch_client.create_post_load_hook("https://hooks.example.com/stitch/loaded")
    stitch_client.disable_post_load_hook(hook.id)

    for attempt in (1, 2):
        code, output = run_dag("stitch_notifications")
        assert code == 0, f"run {attempt} failed:\n{output[-4000:]}"

        emails = sorted((e.email_address, e.disabled_at) for e in stitch_client.list_custom_emails())
        assert emails == [("analytics-team@example.com", None), ("data-oncall@example.com", None)]
        hooks = stitch_client.list_post_load_hooks()
        assert [(h.id, h.url, h.disabled_at) for h in hooks] == [
            (hook.id, "https://hooks.example.com/stitch/loaded", None)
        ]
    assert former.id not in {e.id for e in stitch_client.list_custom_emails()}
