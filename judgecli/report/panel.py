"""How much a judge panel's members agree with each other (a file written with several
``--judge``; keys null for any other file).

* ``panel_alpha``: Krippendorff's alpha (K. Krippendorff, "Computing Krippendorff's
  Alpha-Reliability", 2011) over all items, with the members as coders and the items as
  units; nominal for verdicts (A / B / tie, pass / fail), interval for single-answer
  grades. A member whose judgment failed gave no value for that item (missing data,
  whatever ``--errors`` says), and items with fewer than two values do not count, as in
  Krippendorff's definition. Undefined (null) when no item has two values or every value
  is the same. Counted here a slice of items at a time from the definition's coincidences,
  alpha = 1 - (n - 1) * sum_ck o_ck d_ck / sum_ck n_c n_k d_ck, in closed forms that need
  no values x values table per item: for a unit with m values, sum_ck o_ck d_ck is
  (m^2 - sum_c n_uc^2) / (m - 1) (nominal) or 2 (m sum v^2 - (sum v)^2) / (m - 1)
  (interval). The ``krippendorff`` package (S. Castro, "Fast Krippendorff") gives the same
  figure (the tests check it) but holds an items x values x values array while it counts,
  some 300 bytes an item for pairwise verdicts and gigabytes for grade panels of a million.
* ``panel_members``: the number of members.
* ``panel_agreement``: the mean of the records' per-item ``agreement`` (the share of member
  pairs that agree on the item, over the members that gave a verdict), as ``judge`` wrote it;
  items where it is null (fewer than two verdicts) are left out.
* ``panel_unanimous``: of the items with at least two members' verdicts (or grades), the
  share where they are all the same.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .codes import FAILED, SLICE

PANEL_KEYS = ("panel_members", "panel_alpha", "panel_agreement", "panel_unanimous")


def panel_figures(members: list[dict[str, np.ndarray]], agreement: np.ndarray | None,
                  grades: bool) -> dict[str, Any]:
    """``members``: each member's columns (``verdict``, or ``score`` for grades);
    ``agreement``: the per-item agreement the records hold (nan: null)."""
    out: dict[str, Any] = dict.fromkeys(PANEL_KEYS)
    out["panel_members"] = len(members)
    alpha = _Alpha(members, grades)
    n = len(members[0]["score" if grades else "verdict"]) if members else 0
    for start in range(0, n, SLICE):
        alpha.add(slice(start, start + SLICE))
    if alpha.units:
        out["panel_unanimous"] = alpha.unanimous / alpha.units
        out["panel_alpha"] = alpha.value()
    if agreement is not None and len(agreement) and not np.all(np.isnan(agreement)):
        out["panel_agreement"] = float(np.nanmean(agreement))
    return out


class _Alpha:
    """Krippendorff's alpha accumulated over slices of items (see the module's note)."""

    def __init__(self, members: list[dict[str, np.ndarray]], grades: bool) -> None:
        self.members, self.grades = members, grades
        self.units = self.unanimous = 0  # items with two values or more; all values equal
        self.disagreement = 0.0  # sum over those units of sum_ck o_uck d_ck
        # the pooled values of those units: counts by verdict code, or n, sum v, sum v^2
        self.by_code = np.zeros(8, dtype=np.int64)
        self.sums = np.zeros(3)

    def add(self, part: slice) -> None:
        if self.grades:
            values = np.array([m["score"][part] for m in self.members], dtype=np.float64)
            given = ~np.isnan(values)
            values[~given] = 0.0
        else:
            codes = np.array([m["verdict"][part] for m in self.members], dtype=np.int64)
            given = codes != FAILED
        m = np.count_nonzero(given, axis=0)
        pairable = m >= 2
        m = m[pairable]
        self.units += len(m)
        if self.grades:
            values, given = values[:, pairable], given[:, pairable]
            total, squares = values.sum(axis=0), (values * values).sum(axis=0)
            low = np.where(given, values, np.inf).min(axis=0)
            high = np.where(given, values, -np.inf).max(axis=0)
            self.unanimous += int(np.count_nonzero(low == high))
            self.disagreement += float(np.sum(2 * (m * squares - total * total) / (m - 1)))
            self.sums += (m.sum(), total.sum(), squares.sum())
        else:
            codes, given = codes[:, pairable], given[:, pairable]
            unit = np.broadcast_to(np.arange(len(m)), codes.shape)
            counts = np.bincount(unit[given] * 8 + codes[given],
                                 minlength=8 * len(m)).reshape(len(m), 8)
            self.unanimous += int(np.count_nonzero(counts.max(axis=1) == m))
            same = (counts * counts).sum(axis=1)
            self.disagreement += float(np.sum((m * m - same) / (m - 1)))
            self.by_code += counts.sum(axis=0)

    def value(self) -> float | None:
        if self.grades:
            n, total, squares = self.sums
            expected = 2 * (n * squares - total * total)
        else:
            n = float(self.by_code.sum())
            expected = n * n - float(np.sum(self.by_code.astype(np.float64) ** 2))
        if not expected:
            return None  # one value in all the pairable units: no variation to agree on
        return 1.0 - (n - 1) * self.disagreement / expected
