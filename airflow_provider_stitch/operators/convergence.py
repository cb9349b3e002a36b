"""Racing creates of one object end on one object: the first one created is kept.

Two tasks that look up a name, find nothing and both create leave two objects behind when Stitch does not
refuse the second name (destinations, custom email recipients, post-load hooks). After its create each task
looks again: the object with the lowest id (Stitch hands out increasing ids, so the first one created) is the
one every racer keeps, and a task whose own object came later deletes it and returns the winner's id. The
task that created first may see only its own object; any later creator sees both, so all agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable


def first_created(ids: Iterable[int]) -> int:
    """The id the racers agree on: the lowest, i.e. the object Stitch created first.

    :param ids: ids of the live objects that answer to the same name.
    """
    return min(ids)


def converge(created_id: int, look_again: Callable[[], Iterable[int]], delete: Callable[[int], None]) -> int:
    """The id every racing create agrees on; our own object is deleted when another came first.

    :param created_id: the object this task has just created.
    :param look_again: a fresh look-up of the ids of the live objects with the same name (ours may be
        missing from a stale answer; it counts anyway).
    :param delete: deletes one object by id.
    """
    winner = first_created({created_id, *look_again()})
    if winner != created_id:
        delete(created_id)
    return winner
