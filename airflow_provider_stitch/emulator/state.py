"""In-memory account state of the emulator: accounts, sources, destinations, jobs, notifications."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_stitch.emulator.clock import EmulatorClock
from airflow_provider_stitch.emulator.job_rows import JobRows
from airflow_provider_stitch.emulator.wakeups import WakeupQueue

#: First id handed out for each kind of object; fixed so runs after a reset look alike.
FIRST_IDS = {
    "client": 100001,
    "source": 200001,
    "destination": 300001,
    "stream": 400001,
    "custom_email": 11,
    "hook": 21,
    "import_token": 500001,
}


def new_access_token() -> str:
    """A fresh fake access token (``ac_`` prefix, as in the docs' credential table)."""
    return "ac_" + secrets.token_hex(16)


@dataclass
class CheckRecord:
    """A connection check (and discovery) job of a source or destination."""

    name: str
    started_at: float
    duration: float
    finished: bool = False
    failed: bool = False
    error_message: str | None = None
    completed_at: float | None = None


@dataclass
class StreamRecord:
    """A discovered stream: identity, schema properties and metadata (stream and field level)."""

    stream_id: int
    tap_stream_id: str
    stream_name: str
    stream_metadata: dict[str, Any]
    fields: dict[str, dict[str, Any]]
    field_metadata: dict[str, dict[str, Any]]
    selected: bool | None = None


@dataclass
class JobRecord:
    """A replication job; its progress is computed from the clock when asked."""

    job_name: str
    source_id: int
    started_at: float
    durations: dict[str, float]
    fail_phase: str | None = None
    fail_message: str | None = None
    fail_exit_status: int = 1
    load_error: dict[str, Any] | None = None
    stopped_at: float | None = None
    settled: bool = False
    log_lines: list[str] = field(default_factory=list)

    @property
    def end_time(self) -> float:
        """When the job ends unless stopped: at the end of its failing phase or of the target phase."""
        total = 0.0
        for phase in ("discovery", "tap", "target"):
            total += self.durations[phase]
            if phase == self.fail_phase and phase == "discovery":
                break
        return self.started_at + total


@dataclass
class SourceRecord:
    """One source of an account; ``properties`` holds credentials, which responses never show."""

    id: int
    type: str
    name: str
    display_name: str
    properties: dict[str, Any]
    created_at: float
    updated_at: float
    step: str
    destination_id: int | None = None
    paused_at: str | None = None
    deleted_at: float | None = None
    check: CheckRecord | None = None
    streams: list[StreamRecord] | None = None
    job: JobRecord | None = None
    next_fire_at: float | None = None
    oauth_authorized: bool = False
    scenario: dict[str, Any] = field(default_factory=dict)
    import_tokens: dict[int, float] = field(default_factory=dict)
    #: When the source's live entry in the wake-up queue comes up (None: not queued).
    due_at: float | None = None


@dataclass
class DestinationRecord:
    """One destination of an account."""

    id: int
    type: str
    name: str
    description: str | None
    properties: dict[str, Any]
    created_at: float
    updated_at: float
    check: CheckRecord | None = None
    ignore_unmapped_sources: bool = False


@dataclass
class CustomEmailRecord:
    """A custom notification recipient."""

    id: int
    email_address: str
    created_at: float
    modified_at: float
    disabled_at: str | None = None


@dataclass
class HookRecord:
    """A post-load hook."""

    id: int
    url: str
    destination_id: int | None
    created_at: float
    modified_at: float
    disabled_at: float | None = None


def _by_source_id(source_id: int) -> int:
    return source_id


def _by_stream_then_source(key: tuple[str, str]) -> tuple[str, str]:
    return key[1], key[0]


@dataclass
class AccountRecord:
    """One Stitch client account (one access token)."""

    client_id: int
    token: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    region: str = "us-east-1"
    sources: dict[int, SourceRecord] = field(default_factory=dict)
    destinations: dict[int, DestinationRecord] = field(default_factory=dict)
    custom_emails: dict[int, CustomEmailRecord] = field(default_factory=dict)
    hooks: dict[int, HookRecord] = field(default_factory=dict)
    #: The latest extraction row per source id, listed by source id.
    extractions: JobRows[int] = field(default_factory=lambda: JobRows(_by_source_id))
    #: The latest load row per (source name, stream name), listed by stream name, then source name.
    loads: JobRows[tuple[str, str]] = field(default_factory=lambda: JobRows(_by_stream_then_source))
    jobs: dict[str, JobRecord] = field(default_factory=dict)


@dataclass
class EmulatorSettings:
    """Fixed settings of one emulator instance.

    :param token: access token of the primary account (generated when None).
    :param client_id: client id of the primary account.
    :param partner_id: partner id accepted by ``POST /v3/accounts`` and OAuth.
    :param partner_secret: partner secret accepted by ``POST /v3/accounts`` and OAuth.
    :param clock_mode: ``real`` or ``manual`` (see :class:`~airflow_provider_stitch.emulator.clock.EmulatorClock`).
    :param speed: emulator seconds per real second on the ``real`` clock.
    :param destination_limit: destinations allowed per account.
    :param run_schedules: unpaused, fully configured sources run on their schedule.
    :param cron_scheduling: accounts may use ``cron_expression``.
    :param allow_deprecated_types: accounts may create deprecated types (else ``AccessDenied``).
    :param custom_emails_enabled: the plan has custom notification emails.
    :param hooks_enabled: the plan has post-load hooks.
    :param phase_seconds: default durations (emulator seconds) of ``discovery``, ``tap`` and ``target``.
    :param check_seconds: duration of a connection check.
    """

    token: str | None = None
    client_id: int | None = None
    partner_id: str = "oc_emulator_partner"
    partner_secret: str | None = None
    clock_mode: str = "real"
    speed: float = 1.0
    destination_limit: int = 1
    run_schedules: bool = True
    cron_scheduling: bool = True
    allow_deprecated_types: bool = True
    custom_emails_enabled: bool = True
    hooks_enabled: bool = True
    phase_seconds: dict[str, float] = field(
        default_factory=lambda: {"discovery": 2.0, "tap": 5.0, "target": 3.0}
    )
    check_seconds: float = 2.0

    def __post_init__(self) -> None:
        if self.token is None:
            self.token = new_access_token()
        if self.client_id is None:
            self.client_id = FIRST_IDS["client"]
        if self.partner_secret is None:
            self.partner_secret = "oc_" + secrets.token_hex(16)

    def __repr__(self) -> str:
        return (
            f"EmulatorSettings(client_id={self.client_id}, clock_mode={self.clock_mode!r}, "
            f"speed={self.speed}, token=***, partner_secret=***)"
        )


class EmulatorState:
    """All accounts and the id counters; every handler works under :attr:`lock`."""

    def __init__(self, settings: EmulatorSettings, clock: EmulatorClock) -> None:
        self.settings = settings
        self.clock = clock
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Forget everything but the primary account, which starts empty again."""
        with self.lock:
            self._counters = dict(FIRST_IDS)
            self.accounts: dict[str, AccountRecord] = {}
            self.oauth_codes: dict[str, tuple[int, float]] = {}
            self.feature_overrides: dict[str, Any] = {}
            self.log_signatures: dict[str, tuple[int, str]] = {}
            #: Sources by when they next need settling, and the account owning each source id.
            self.wakeups = WakeupQueue()
            self.source_owners: dict[int, AccountRecord] = {}
            primary_id = int(self.settings.client_id or FIRST_IDS["client"])
            self._counters["client"] = max(self._counters["client"], primary_id + 1)
            self.add_account(AccountRecord(client_id=primary_id, token=str(self.settings.token)))

    def next_id(self, kind: str) -> int:
        """The next id of a kind (``source``, ``stream``, ...)."""
        with self.lock:
            value = self._counters[kind]
            self._counters[kind] = value + 1
            return value

    def add_account(self, account: AccountRecord) -> AccountRecord:
        """Register an account under its token."""
        with self.lock:
            self.accounts[account.token] = account
            return account

    def account_for_token(self, token: str | None) -> AccountRecord | None:
        """The account of an access token, or None."""
        if not token:
            return None
        return self.accounts.get(token)

    def account_by_client_id(self, client_id: int) -> AccountRecord | None:
        """The account with this client id, or None."""
        return next((a for a in self.accounts.values() if a.client_id == client_id), None)

    def find_source(self, source_id: int) -> tuple[AccountRecord, SourceRecord] | None:
        """A source of any account, with its account."""
        account = self.source_owners.get(source_id)
        if account is not None and source_id in account.sources:
            return account, account.sources[source_id]
        for account in self.accounts.values():
            source = account.sources.get(source_id)
            if source is not None:
                return account, source
        return None

    def setting(self, name: str) -> Any:
        """A setting, as changed by the control API when it was."""
        return self.feature_overrides.get(name, getattr(self.settings, name))
