"""How much a judge panel's members agree with each other (a file written with several
``--judge``; keys null for any other file).

* ``panel_alpha``: Krippendorff's alpha (K. Krippendorff, "Computing Krippendorff's
  Alpha-Reliability", 2011) over all items, from the ``krippendorff`` package (S. Castro,
  "Fast Krippendorff"), with the members as coders and the items as units; nominal
  for verdicts (A / B / tie, pass / fail), interval for single-answer grades. A member whose
  judgment failed gave no value for that item (missing data, whatever ``--errors`` says),
  and items with fewer than two values do not count, as in Krippendorff's definition.
  Undefined (null) when no item has two values or every value is the same. The package
  holds an items x values x values array while it counts: some 300 bytes per item for
  pairwise verdicts, for a moment.
* ``panel_members``: the number of members.
* ``panel_agreement``: the mean of the records' per-item ``agreement`` (the share of member
  pairs that agree on the item, over the members that gave a verdict), as ``judge`` wrote it;
  items where it is null (fewer than two verdicts) are left out.
* ``panel_unanimous``: of the items with at least two members' verdicts (or grades), the
  share where they are all the same.
"""

from __future__ import annotations

import warnings
from typing import Any

import krippendorff
import numpy as np

from .codes import FAILED, num

PANEL_KEYS = ("panel_members", "panel_alpha", "panel_agreement", "panel_unanimous")


def member_values(columns: list[dict[str, np.ndarray]], grades: bool) -> np.ndarray:
    """The members' values as a (members, items) float matrix, nan where a member failed:
    Krippendorff's reliability data."""
    if grades:
        return np.array([c["score"] for c in columns], dtype=np.float64)
    matrix = np.array([c["verdict"] for c in columns], dtype=np.float64)
    matrix[matrix == FAILED] = np.nan
    return matrix


def panel_figures(values: np.ndarray, agreement: np.ndarray | None,
                  grades: bool) -> dict[str, Any]:
    """``values``: :func:`member_values`; ``agreement``: the per-item agreement (nan: null)."""
    out: dict[str, Any] = dict.fromkeys(PANEL_KEYS)
    out["panel_members"] = len(values)
    counted = np.count_nonzero(~np.isnan(values), axis=0)
    pairable = values[:, counted >= 2]
    if pairable.shape[1]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # all-nan columns are not in pairable
            low, high = np.nanmin(pairable, axis=0), np.nanmax(pairable, axis=0)
        out["panel_unanimous"] = float(np.mean(low == high))
        out["panel_alpha"] = alpha(pairable, grades)
    if agreement is not None and len(agreement) and not np.all(np.isnan(agreement)):
        out["panel_agreement"] = float(np.nanmean(agreement))
    return out


def alpha(values: np.ndarray, grades: bool) -> float | None:
    """Krippendorff's alpha of a (coders, units) matrix; None where it is undefined."""
    try:
        with np.errstate(all="ignore"):
            value = krippendorff.alpha(reliability_data=values,
                                       level_of_measurement="interval" if grades else "nominal")
    except ValueError:  # one value in the whole domain, or no pairable unit
        return None
    return num(value)
