"""Exceptions raised by the connector validators; none of them ever carries a property value."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PropertyError:
    """One problem with one property.

    :param property: the property name (or ``""`` for problems with the whole object).
    :param message: what is wrong and what is expected, without the supplied value of a credential.
    """

    property: str
    message: str

    def __str__(self) -> str:
        return f"{self.property}: {self.message}" if self.property else self.message


class PropertiesValidationError(ValueError):
    """Every problem found in a set of connection properties, reported at once."""

    def __init__(self, connection_type: str, errors: Sequence[PropertyError]) -> None:
        self.connection_type = connection_type
        self.errors: list[PropertyError] = list(errors)
        super().__init__(str(self))

    def bad_properties(self) -> list[str]:
        """Names of the properties with problems, in order of first mention (Stitch's ``bad_properties``)."""
        names: dict[str, None] = {}
        for error in self.errors:
            if error.property:
                names.setdefault(error.property, None)
        return list(names)

    def __str__(self) -> str:
        count = len(self.errors)
        heading = f"{count} problem{'s' if count != 1 else ''} with the properties of {self.connection_type}:"
        return "\n".join([heading, *(f"  - {error}" for error in self.errors)])

    def __repr__(self) -> str:
        return (
            f"PropertiesValidationError({self.connection_type!r}, bad_properties={self.bad_properties()!r})"
        )

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.connection_type, self.errors))


class UnknownConnectionTypeError(ValueError, KeyError):
    """A connection type that is not in the catalog; the message names the closest known types."""

    def __init__(self, connection_type: str, suggestions: Sequence[str]) -> None:
        self.connection_type = connection_type
        self.suggestions = list(suggestions)
        super().__init__(connection_type)

    def __str__(self) -> str:
        message = f"unknown Stitch connection type {self.connection_type!r}"
        if self.suggestions:
            message += "; did you mean " + " or ".join(repr(s) for s in self.suggestions) + "?"
        return message

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.connection_type, self.suggestions))
