"""Argument errors that name the task they were found in (``task create_source: ...``).

Loaded only when an operator's arguments are wrong, so a DAG file that parses cleanly never imports
the connector package through it.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from airflow_provider_stitch.connectors import PropertiesValidationError, PropertyError


class TaskPropertiesValidationError(PropertiesValidationError):
    """A :class:`PropertiesValidationError` of one task's arguments, naming that task.

    :param task_id: the task.
    :param connection_type: the connection type whose properties were checked.
    :param errors: every problem found.
    """

    def __init__(self, task_id: str, connection_type: str, errors: Sequence[PropertyError]) -> None:
        self.task_id = task_id
        super().__init__(connection_type, errors)

    def __str__(self) -> str:
        return f"task {self.task_id}: {super().__str__()}"

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.task_id, self.connection_type, self.errors))


def task_prefix(task_id: str) -> str:
    """How an argument error names its task."""
    return f"task {task_id}: "


def for_task(task_id: str, error: ValueError) -> ValueError:
    """The same problem as ``error``, its message starting with ``task <task_id>:``.

    :param task_id: the task whose arguments were checked.
    :param error: the error the checks raised.
    """
    if isinstance(error, TaskPropertiesValidationError) or str(error).startswith(task_prefix(task_id)):
        return error
    if isinstance(error, PropertiesValidationError):
        return TaskPropertiesValidationError(task_id, error.connection_type, error.errors)
    message = task_prefix(task_id) + str(error)
    renamed = copy.copy(error)
    renamed.args = (message,)
    # A class that builds its text from its attributes keeps saying the old text: use a plain error.
    return renamed if str(renamed) == message else ValueError(message)
