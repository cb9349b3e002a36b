"""Plumbing shared by the Stitch operators: the hook, argument checks, type lookup and error translation.

Nothing here imports the API client, the models or the connector catalog at module import time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import AirflowException, BaseOperator

from airflow_provider_stitch.defaults import DEFAULT_CONN_ID
from airflow_provider_stitch.operators.credentials import (
    credential_names,
    credential_values,
    register_with_masker,
    scrub,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_stitch.api.client import StitchClient
    from airflow_provider_stitch.connectors import ConnectorSpec
    from airflow_provider_stitch.hooks.stitch import StitchHook


#: What a create operator may do when the object already exists.
IF_EXISTS_CHOICES = ("update", "skip", "fail")


def contains_template(value: Any) -> bool:
    """True when ``value`` (or anything nested in it) is resolved only at run time: Jinja, or an XComArg.

    Such a value can be checked only once rendered. XComArgs (``task.output``) are recognised by the
    ``iter_references`` method Airflow's run-time-resolved arguments share on 2.11 and 3.x.
    """
    if callable(getattr(value, "iter_references", None)):
        return True
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, Mapping):
        return any(contains_template(key) or contains_template(item) for key, item in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(contains_template(item) for item in value)
    return False


def require_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    """Return ``value`` when it is one of ``choices``; raise ``ValueError`` naming them otherwise."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(repr(c) for c in choices)}, not {value!r}")
    return value


def require_id(name: str, value: Any) -> int | None:
    """An id argument as an int; None when it is still a template. Raises ``ValueError`` when it is no id."""
    if contains_template(value):
        return None
    if isinstance(value, bool) or not str(value).strip().isdigit() or int(str(value).strip()) < 1:
        raise ValueError(f"{name} must be a positive integer id, not {value!r}")
    return int(str(value).strip())


def require_text(name: str, value: Any) -> None:
    """Raise ``ValueError`` unless ``value`` is a non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, not {value!r}")


def require_mapping(name: str, value: Any, *, allow_empty: bool = True) -> None:
    """Raise ``ValueError`` unless ``value`` is a mapping (or a template that will render into one)."""
    if isinstance(value, str) and contains_template(value):
        return
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a dict, not {type(value).__name__}")
    if not allow_empty and not value:
        raise ValueError(f"{name} must not be empty")


def connector_of_kind(connection_type: str, kind: str) -> ConnectorSpec:
    """The catalog entry of a source or destination type (short names such as ``postgres`` accepted).

    :param connection_type: Stitch type as the user wrote it.
    :param kind: ``source`` or ``destination``.
    :raises ValueError: unknown type (with suggestions), or a type of the other kind.
    """
    from airflow_provider_stitch.connectors import UnknownConnectionTypeError, get_connector

    candidates = [connection_type]
    if kind == "source" and not connection_type.startswith("platform."):
        candidates.append(f"platform.{connection_type}")
    first_error: UnknownConnectionTypeError | None = None
    for candidate in candidates:
        try:
            connector = get_connector(candidate)
        except UnknownConnectionTypeError as error:
            first_error = first_error or error
            continue
        if connector.kind == kind:
            return connector
    if first_error is not None and len(candidates) == 1:
        raise first_error
    if first_error is not None:
        raise ValueError(str(first_error)) from None
    raise ValueError(f"{connection_type!r} is not a Stitch {kind} type")


def validated_properties(
    connection_type: str, kind: str, properties: Any, *, partial: bool
) -> tuple[str, dict[str, Any]]:
    """The catalog type and the properties as Stitch expects them (normalised by the catalog).

    :param connection_type: Stitch type as the user wrote it (short forms accepted).
    :param kind: ``source`` or ``destination``.
    :param properties: the rendered property map.
    :param partial: an update: only the properties given are checked.
    :raises ValueError: unknown type, or ``PropertiesValidationError`` listing every problem.
    """
    if not isinstance(properties, Mapping):
        raise ValueError(f"properties must be a dict, not {type(properties).__name__}")
    from airflow_provider_stitch.connectors import validate_properties

    connector = connector_of_kind(connection_type, kind)
    return connector.type, dict(validate_properties(connector.type, dict(properties), partial=partial))


@contextmanager
def naming_the_task(task_id: str) -> Iterator[None]:
    """Prefix the argument errors found while a DAG is parsed with ``task <task_id>:``.

    A properties error keeps its type (a :class:`TaskPropertiesValidationError`), so it can still be
    caught as ``PropertiesValidationError``.

    :param task_id: the task whose arguments are checked.
    """
    try:
        yield
    except ValueError as error:
        from airflow_provider_stitch.operators.task_errors import for_task

        raise for_task(task_id, error) from None


@contextmanager
def stitch_errors(
    action: str, hints: Mapping[str, str] | None = None, *, secrets: Sequence[str] = ()
) -> Iterator[None]:
    """Turn Stitch and validation errors into task failures that carry Stitch's code and message.

    :param action: what was being done, e.g. ``"create source 'Shop'"``.
    :param hints: extra advice, keyed by a fragment of Stitch's message or by its error code.
    :param secrets: credential values the task knows; they are scrubbed from the failure message (Stitch
        may quote one, e.g. a tap error naming the database password).
    """
    from airflow_provider_stitch.api.errors import StitchAPIError, StitchError
    from airflow_provider_stitch.connectors import PropertiesValidationError

    try:
        yield
    except PropertiesValidationError as error:
        raise AirflowException(scrub(f"Could not {action}: {error}", secrets)) from None
    except StitchAPIError as error:
        advice = next(
            (
                text
                for key, text in (hints or {}).items()
                if key == error.code or key.lower() in (error.message or "").lower()
            ),
            None,
        )
        message = f"Could not {action}: Stitch answered {error}"
        raise AirflowException(scrub(f"{message}. {advice}" if advice else message, secrets)) from None
    except StitchError as error:
        raise AirflowException(scrub(f"Could not {action}: {error}", secrets)) from None


class StitchHookMixin:
    """A task's lazily built Stitch hook and client, from its ``stitch_conn_id`` and ``hook_params``.

    Shared by the operators and the sensors, so one task builds one hook and one HTTP session.
    """

    stitch_conn_id: str
    hook_params: dict[str, Any]
    #: Hook arguments of this kind of task, under the user's ``hook_params``.
    hook_defaults: ClassVar[dict[str, Any]] = {}
    _stitch_hook: StitchHook | None = None

    @property
    def hook(self) -> StitchHook:
        """The Stitch hook of this task (built on first use)."""
        if self._stitch_hook is None:
            from airflow_provider_stitch.hooks.stitch import StitchHook

            self._stitch_hook = StitchHook(self.stitch_conn_id, **{**self.hook_defaults, **self.hook_params})
        return self._stitch_hook

    @property
    def client(self) -> StitchClient:
        """The synchronous API client of this task's connection."""
        return self.hook.get_client()


class StitchBaseOperator(StitchHookMixin, BaseOperator):
    """Base of the Stitch operators: a lazily built hook and client for ``stitch_conn_id``.

    :param stitch_conn_id: Airflow connection of type ``stitch``.
    :param hook_params: extra arguments of :class:`StitchHook` (``timeout``, ``max_attempts``...).
    """

    ui_color = "#ffd700"

    def __init__(
        self,
        *,
        stitch_conn_id: str = DEFAULT_CONN_ID,
        hook_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.stitch_conn_id = stitch_conn_id
        self.hook_params = dict(hook_params or {})


def _fingerprint(*parts: Any) -> str:
    """A digest of rendered arguments, to recognise a value that was already validated."""
    try:
        text = json.dumps(parts, sort_keys=True, default=repr)
    except TypeError:  # keys of mixed types cannot be sorted; the validator will name the property
        text = repr(parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class StitchPropertiesOperator(StitchBaseOperator):
    """Base of the operators that send a source's or destination's properties.

    Properties are validated once per rendered value (at parse time when they are static; the client does
    not check them again), and every value the catalog marks credential is registered with Airflow's
    masker as soon as the fields are rendered, before Airflow stores them, and scrubbed from failures.
    """

    #: ``source`` or ``destination``: which catalog types the properties belong to.
    credential_kind: ClassVar[str]
    #: The operator validates properties itself, so the client does not do it a second time.
    hook_defaults: ClassVar[dict[str, Any]] = {"validate": False}
    properties: Any

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._secrets: list[str] = []
        self._validated: tuple[str, tuple[str, dict[str, Any]]] | None = None

    def known_type(self) -> str | None:
        """The connection type when the task's arguments name it (None for updates)."""
        return None

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        """Render as Airflow does, then register the rendered credential values with the masker."""
        super().render_template_fields(context, jinja_env)
        self.mask_credentials()

    def mask_credentials(self, connection_type: str | None = None) -> list[str]:
        """Register the credential values of ``properties`` with the masker; returns every one known.

        :param connection_type: the type when it has just been learned (an update's first look).
        """
        names = credential_names(connection_type or self.known_type(), self.credential_kind)
        values = credential_values(self.properties, names)
        new = [value for value in values if value not in self._secrets]
        if new:
            register_with_masker(new)
            self._secrets = sorted({*self._secrets, *new}, key=len, reverse=True)
        return self._secrets

    def properties_for(self, connection_type: str, *, partial: bool) -> tuple[str, dict[str, Any]]:
        """The catalog type and normalised properties, validating each rendered value only once.

        :param connection_type: the type to check the properties against.
        :param partial: an update: only the properties given are checked.
        """
        from airflow_provider_stitch.connectors.validate import refuse_unreadable_values

        refuse_unreadable_values(connection_type, self.properties)  # before the digest walks them
        key = _fingerprint(connection_type, self.credential_kind, partial, self.properties)
        if self._validated is None or self._validated[0] != key:
            result = validated_properties(
                connection_type, self.credential_kind, self.properties, partial=partial
            )
            self._validated = (key, result)
        return self._validated[1]

    def check_properties_at_parse(self, connection_type: Any, *, partial: bool) -> None:
        """Validate static properties when the DAG is parsed (templates wait for rendering)."""
        from airflow_provider_stitch.connectors.validate import refuse_unreadable_values

        refuse_unreadable_values(connection_type, self.properties)  # before anything walks them
        if contains_template(connection_type) or contains_template(self.properties):
            return
        self.properties_for(connection_type, partial=partial)
