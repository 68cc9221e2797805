"""Id identity, one rule everywhere: ids compare by JSON value, so 3 and "3" are different
ids, as they are in the input. ``id_key`` is the hashable key of an id; ``id_hash`` its
64-bit hash, for the places that keep millions of ids (``report``, ``--resume``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def id_key(value: Any) -> tuple[str, Any]:
    return (type(value).__name__, value)


def id_hash(value: Any) -> int:
    """The hash of :func:`id_key`; within one process Python's hash is fixed."""
    return hash(id_key(value))


def records_by_item(records: Iterable[dict[str, Any]], items: Sequence[Any]) -> list[Any]:
    """The record of each of ``items`` (matched by ``id``), in their order; None for an item
    with none."""
    by_id = {id_key(r["id"]): r for r in records}
    return [by_id.get(id_key(item.id)) for item in items]
