"""What a second judge's review did to the first judge's verdicts (``judgment.review``; keys
null for a file without reviews).

* ``n_reviewed``: reviews that succeeded (no error, a verdict or grade).
* ``review_changed``: of those, the share whose verdict (grade) the review changed, as the
  record's ``changed`` says.
* With labels, on the items with a label and a successful review (so both figures count
  the same items): ``agreement_before_review`` (the first judge's verdicts) and
  ``agreement_after_review`` (the reviewer's), ``review_fixed`` (wrong before, right after)
  and ``review_broke`` (right before, wrong after). A failed review leaves the first verdict
  standing, so it changes neither; items without a successful review are not counted.
  The first verdict counts as ``--errors`` says (with ``drop``, an item whose first judgment
  failed is left out). Grades have no right or wrong: for single-answer files these four
  stay null.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .codes import FAILED, NO_LABEL, apply_errors, share

REVIEW_KEYS = ("n_reviewed", "review_changed", "agreement_before_review",
               "agreement_after_review", "review_fixed", "review_broke")


def review_figures(first: np.ndarray, review: dict[str, np.ndarray], gold: np.ndarray | None,
                   errors: str) -> dict[str, Any]:
    """``first``: the first judge's verdict codes (-1 failed); ``review``: the review's
    columns (``present``, ``failed``, ``verdict``, ``changed``); ``gold``: label codes, or
    None for grades."""
    out: dict[str, Any] = dict.fromkeys(REVIEW_KEYS)
    ok = review["present"] & ~review["failed"]
    out["n_reviewed"] = int(np.count_nonzero(ok))
    changed = review["changed"]
    out["review_changed"] = share(changed == 1, ok & (changed >= 0))
    if gold is None:
        return out
    counted = ok & (gold != NO_LABEL)
    if errors == "drop":
        counted &= first != FAILED
    if not counted.any():
        return out
    before = apply_errors(first, errors)[counted]
    after, gold = review["verdict"][counted], gold[counted]
    right_before, right_after = before == gold, after == gold
    out.update(agreement_before_review=share(right_before),
               agreement_after_review=share(right_after),
               review_fixed=int(np.count_nonzero(~right_before & right_after)),
               review_broke=int(np.count_nonzero(right_before & ~right_after)))
    return out
