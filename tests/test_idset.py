"""The compact id set that finds duplicate ids in a stream of any length."""

from __future__ import annotations

import random

from judgecli.io.idset import IdSet


def test_it_is_a_set_of_json_ids_across_its_runs() -> None:
    seen = IdSet(chunk=64)  # small runs, so that lookups cross several of them
    ids: list[object] = [*range(3000), *(str(i) for i in range(3000))]
    random.Random(0).shuffle(ids)
    assert all(seen.add(i) for i in ids)
    assert len(seen) == 6000 and len(seen._runs) > 1
    # 3 and "3" are different ids, as they are in the input.
    assert 3 in seen and "3" in seen and 3000 not in seen and "x" not in seen
    assert not any(seen.add(i) for i in ids[::7])
    assert len(seen) == 6000


def test_it_holds_about_eight_bytes_an_id() -> None:
    seen = IdSet()
    for i in range(300_000):
        seen.add(f"item-{i}")
    stored = sum(run.nbytes for run in seen._runs)
    assert stored == 8 * (300_000 - len(seen._recent))
