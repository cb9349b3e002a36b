"""Limits on the shape of a supplied value, checked without recursion before any rule reads it.

A value nested deeper than :data:`MAX_NESTING` levels (or one that contains itself) is refused up front:
no property Stitch documents comes close, and reading such a value recursively (``repr``, ``json.dumps``,
a schema walk) would end in ``RecursionError`` instead of a message naming the property. So is an integer
of more than :data:`MAX_INTEGER_DIGITS` digits, which ``str`` and ``json.dumps`` refuse to write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Deepest nesting of lists and objects accepted in one property value (the top level counts as 1).
MAX_NESTING = 32
#: Most digits an integer in a property value may have: longer ones cannot be written as JSON text.
MAX_INTEGER_DIGITS = 1000
_MAX_INTEGER_BITS = int(MAX_INTEGER_DIGITS * 3.3219)  # log2(10) bits per decimal digit

_CONTAINERS = (list, tuple, set, frozenset)


def too_deeply_nested(value: Any, limit: int = MAX_NESTING) -> bool:
    """True when ``value`` nests lists/objects more than ``limit`` levels deep (a cycle counts as too deep).

    :param value: the value to inspect; only lists, tuples, sets and mappings are entered.
    :param limit: the deepest nesting accepted.
    """
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, _CONTAINERS):
            children = item
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


def shape_problem(value: Any) -> str | None:
    """What makes ``value`` unreadable (too deep, or an integer too long to write), or ``None``.

    :param value: a property value as supplied.
    """
    if too_deeply_nested(value):
        return f"nests lists and objects more than {MAX_NESTING} levels deep"
    pending: list[Any] = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, int) and not isinstance(item, bool) and item.bit_length() > _MAX_INTEGER_BITS:
            return f"holds an integer of more than {MAX_INTEGER_DIGITS} digits"
        if isinstance(item, Mapping):
            pending.extend(item.values())
        elif isinstance(item, _CONTAINERS):
            pending.extend(item)
    return None
