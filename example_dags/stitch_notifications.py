"""Keep Stitch's notification settings in code: extra email recipients and a post-load webhook.

Run it whenever the settings change; every task is idempotent (recipients are found by address and
hooks by URL), so running it again changes nothing. The webhook URL comes from the Airflow Variable
``stitch_post_load_hook_url`` because such URLs often embed a secret; the task logs show only its host.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_stitch.operators import StitchCustomEmailOperator, StitchPostLoadHookOperator

POST_LOAD_HOOK_URL = (
    "{{ var.value.get('stitch_post_load_hook_url', 'https://hooks.example.com/stitch/loaded') }}"
)

with DAG(
    dag_id="stitch_notifications",
    description="Manage Stitch custom email recipients and post-load hooks",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["stitch", "example"],
) as dag:
    # Stitch also emails the account's users; these addresses get the same notifications.
    # [START howto_custom_email]
    add_oncall = StitchCustomEmailOperator(
        task_id="add_oncall_recipient", email_address="data-oncall@example.com"
    )
    # [END howto_custom_email]
    add_analytics = StitchCustomEmailOperator(
        task_id="add_analytics_recipient", email_address="analytics-team@example.com"
    )

    # A departed colleague: removing an address that is already gone succeeds too.
    remove_former = StitchCustomEmailOperator(
        task_id="remove_former_recipient", email_address="former-analyst@example.com", action="delete"
    )

    # Stitch calls this URL after every load, e.g. to start a dbt Cloud job or post to chat.
    # create reuses an existing hook as it is; enable switches it back on if someone disabled it.
    # [START howto_post_load_hook]
    add_hook = StitchPostLoadHookOperator(task_id="add_post_load_hook", url=POST_LOAD_HOOK_URL)
    enable_hook = StitchPostLoadHookOperator(
        task_id="enable_post_load_hook", url=POST_LOAD_HOOK_URL, action="enable"
    )
    # [END howto_post_load_hook]

    add_hook >> enable_hook
