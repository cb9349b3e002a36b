"""Limits on the shape of a supplied value, checked without recursion before any rule reads it.

A value nested deeper than :data:`MAX_NESTING` levels (or one that contains itself) is refused up front:
no property Stitch documents comes close, and reading such a value recursively (``repr``, ``json.dumps``,
a schema walk) would end in ``RecursionError`` instead of a message naming the property.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Deepest nesting of lists and objects accepted in one property value (the top level counts as 1).
MAX_NESTING = 32

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
