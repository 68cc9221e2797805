"""AlpacaEval 2's length-controlled win rate as alpaca_eval computes it, from its
``df_gamed.csv`` (``report --alpacaeval-gamed FILE``).

Follows alpaca-eval 0.6.6 (tatsu-lab/alpaca_eval, src/alpaca_eval/metrics/glm_winrate.py,
``get_length_controlled_winrate`` with ``glm_name="length_controlled_v1"``; the code of
commit 19866ff8 is the same), on one model's annotations:

* the k-th item (the k-th record of the file, or of its group) is AlpacaEval's instruction k,
  as alpaca_eval takes the k-th annotation (``df.reset_index()["index"]``); its difficulty is
  the ``instruction_difficulty`` of data row k of ``df_gamed.csv`` when that row is the first
  of its ``index`` (pandas' ``drop_duplicates("index")`` keeps row labels);
* the length term is tanh(d / std(d)), d = len(answer_a) - len(answer_b) in characters (the
  baseline's length minus the model's), std with ddof 1 over the items whose answers are
  both text;
* the GLM ``np.tanh(std_delta_len) + instruction_difficulty + not_gamed_baseline - 1`` is
  fitted on the rows of ``df_gamed.csv`` (two padded baselines, "gamed", with their
  ``preference`` in [0, 1] and ``std_delta_len`` as written there) and the model's items
  (preference - 1), each gamed row weighing 0.2 / 2 and the model's 1
  (``regularize_to_baseline_lambda``); rows without a preference are left out of the fit;
* the fit is scikit-learn's ``LogisticRegressionCV`` as ``fit_LogisticRegressionCV`` sets it
  up: each row twice (label 1 weighted w p, label 0 weighted w (1 - p)), L1 penalty,
  liblinear, no intercept, ``random_state=123``, 10 values of C chosen by 5-fold
  ``GroupKFold`` (a row's two copies in one fold) on the weighted log loss of the soft labels;
* the figure is the mean over every item (a failed one too) of the fit's prediction with the
  length term at 0, x100, and ``alpacaeval_lc_standard_error`` the standard error of those
  predictions (ddof 1), x100.

Where every item's two answers have the same length (the baseline against itself) the
figure is 50 and its standard error 0, as alpaca_eval sets them for the baseline by name.
scikit-learn is imported only when the figure is computed.
"""

from __future__ import annotations

import csv
import math
import os
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from ..errors import InputError

GAMED_FILE = "df_gamed.csv"
GAMED_LAMBDA = 0.2  # regularize_to_baseline_lambda; two gamed baselines share it
N_SPLITS = 5
RANDOM_STATE = 123
COLUMNS = ("index", "preference", "std_delta_len", "instruction_difficulty",
           "not_gamed_baseline")
_BOOLS = {"true": True, "false": False}


@dataclass(frozen=True)
class Gamed:
    """``df_gamed.csv``: the gamed baselines' rows and the instructions' difficulty."""

    path: str
    preference: np.ndarray  # in [0, 1]; NaN: none
    std_delta_len: np.ndarray
    difficulty: np.ndarray
    not_gamed: np.ndarray  # bool
    difficulty_by_row: dict[int, float]  # data row -> difficulty, first rows of an index


def gamed_path(path: str) -> str:
    """The file itself, or ``df_gamed.csv`` in a folder."""
    if os.path.isdir(path):
        inside = os.path.join(path, GAMED_FILE)
        if not os.path.isfile(inside):
            raise InputError(f"no {GAMED_FILE} in this folder (AlpacaEval's data set "
                             "tatsu-lab/alpaca_eval has it)", file=path)
        return inside
    if not os.path.isfile(path):
        raise InputError("no such file or folder", file=path)
    return path


def _number(text: str, path: str, line: int, field: str, *, empty_ok: bool) -> float:
    if text.strip() == "" and empty_ok:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"expected a number, got {text!r}", file=path, line=line,
                         field=field) from None
    if math.isnan(value) and not empty_ok:
        raise InputError("expected a number, got NaN", file=path, line=line, field=field)
    return value


@lru_cache(maxsize=4)
def read_gamed(path: str) -> Gamed:
    """Read and check ``df_gamed.csv`` (or the folder holding it)."""
    path = gamed_path(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise InputError("empty file", file=path)
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise InputError(f"no column {', '.join(missing)} (the header has "
                                 f"{', '.join(header)})", file=path, line=1, field=missing[0])
            at = {c: header.index(c) for c in COLUMNS}
            rows = list(enumerate(reader, start=2))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read: {exc}", file=path) from None
    n = len(rows)
    preference, delta, difficulty = np.empty(n), np.empty(n), np.empty(n)
    not_gamed = np.empty(n, dtype=bool)
    first: dict[int, float] = {}
    seen: set[float] = set()
    for k, (line, row) in enumerate(rows):
        if len(row) != len(header):
            raise InputError(f"{len(row)} fields, the header has {len(header)}", file=path,
                             line=line)
        p = _number(row[at["preference"]], path, line, "preference", empty_ok=True)
        if not math.isnan(p) and not 0.0 <= p <= 1.0:
            raise InputError(f"expected a number in [0, 1] (P(the gamed model better)), "
                             f"got {p!r}", file=path, line=line, field="preference")
        preference[k] = p
        delta[k] = _number(row[at["std_delta_len"]], path, line, "std_delta_len",
                           empty_ok=True)
        difficulty[k] = _number(row[at["instruction_difficulty"]], path, line,
                                "instruction_difficulty", empty_ok=True)
        flag = _BOOLS.get(row[at["not_gamed_baseline"]].strip().lower())
        if flag is None:
            raise InputError(f"expected True or False, got {row[at['not_gamed_baseline']]!r}",
                             file=path, line=line, field="not_gamed_baseline")
        not_gamed[k] = flag
        index = _number(row[at["index"]], path, line, "index", empty_ok=False)
        if index not in seen:
            seen.add(index)
            first[k] = difficulty[k]
    if not n:
        raise InputError("no rows", file=path)
    return Gamed(path=path, preference=preference, std_delta_len=delta,
                 difficulty=difficulty, not_gamed=not_gamed, difficulty_by_row=first)


def uncovered(n: int, gamed: Gamed) -> int | None:
    """None when df_gamed.csv has a difficulty for each of instructions 0..n-1; else how
    many of the first instructions it covers."""
    for k in range(n):
        if k not in gamed.difficulty_by_row:
            return k
    return None


def _log_loss(y_true: np.ndarray, y_pred: np.ndarray, true_prob: np.ndarray,
              true_sample_weight: np.ndarray) -> float:
    """The weighted log loss of soft labels on a fold (alpaca_eval's
    ``logloss_continuous``: y_pred clipped to [1e-15, 1 - 1e-15])."""
    p = np.where(y_true == 1, true_prob, 1 - true_prob)
    q = np.clip(y_pred, 1e-15, 1 - 1e-15)
    return float(-np.mean(true_sample_weight * (p * np.log(q) + (1 - p) * np.log(1 - q))))


def length_controlled_exact(won: np.ndarray, delta_len: np.ndarray, gamed: Gamed,
                            file: str) -> tuple[float, float]:
    """(LC win rate, its standard error), in percent. ``won``: preference - 1 per item in
    file order (NaN: no preference); ``delta_len``: len(B) - len(A) (NaN: unknown)."""
    n = len(won)
    known = ~np.isnan(delta_len)
    if known.any() and np.all(delta_len[known] == 0):
        return 50.0, 0.0
    if uncovered(n, gamed) is not None:
        raise InputError(f"{n} items, {gamed.path} has instruction difficulties for the "
                         f"first {uncovered(n, gamed)} instructions", file=file)
    difficulty = np.array([gamed.difficulty_by_row[k] for k in range(n)])
    d = -delta_len  # alpaca_eval: len(output_1) - len(output_2)
    scale = float(np.std(d[known], ddof=1)) if np.count_nonzero(known) > 1 else math.nan
    length = np.tanh(d / scale)
    x = np.r_[np.c_[np.tanh(gamed.std_delta_len), gamed.difficulty,
                    gamed.not_gamed.astype(float)],
              np.c_[length, difficulty, np.ones(n)]]
    p = np.r_[gamed.preference, won]
    weight = np.r_[np.where(gamed.not_gamed, 1.0, GAMED_LAMBDA / 2), np.ones(n)]
    used = ~np.isnan(p) & ~np.isnan(x).any(axis=1)
    x, p, weight = x[used], p[used], weight[used]
    fit = _fit(x, p, weight)
    test = np.c_[np.zeros(n), difficulty, np.ones(n)]
    predicted = fit.predict_proba(test)[:, 1]
    se = float(np.std(predicted, ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return float(predicted.mean() * 100), se * 100


def _fit(x: np.ndarray, p: np.ndarray, weight: np.ndarray) -> Any:
    """``fit_LogisticRegressionCV(..., is_ytrue_proba=True, n_splits=5)`` of alpaca_eval."""
    import sklearn
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.metrics import make_scorer
    from sklearn.model_selection import GroupKFold

    m = len(p)
    x2 = np.r_[x, x]
    y = np.r_[np.ones(m), np.zeros(m)]
    true_prob = np.r_[p, 1 - p]
    true_weight = np.r_[weight, weight]
    groups = np.r_[np.arange(m), np.arange(m)]
    with sklearn.config_context(enable_metadata_routing=True), warnings.catch_warnings():
        # liblinear's iteration cap and scikit-learn's notices of coming changes: the
        # original runs with the same settings, and gets the same numbers.
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", FutureWarning)
        scorer = make_scorer(_log_loss, response_method="predict_proba",
                             greater_is_better=False).set_score_request(
            true_sample_weight=True, true_prob=True)
        model = LogisticRegressionCV(cv=GroupKFold(n_splits=N_SPLITS), scoring=scorer,
                                     random_state=RANDOM_STATE, dual=False, **_l1_penalty(),
                                     solver="liblinear", n_jobs=None, fit_intercept=False)
        model.set_fit_request(sample_weight=True)
        model.fit(x2, y, sample_weight=true_prob * true_weight, groups=groups,
                  true_sample_weight=true_weight, true_prob=true_prob)
    return model


def _l1_penalty() -> dict[str, Any]:
    """alpaca_eval's ``penalty="l1"``, said as the installed scikit-learn wants it: 1.8
    deprecated ``penalty`` for ``l1_ratios=(1,)`` (the same L1 fit) and 1.10 removes it."""
    import sklearn

    major, minor = (int(part) for part in sklearn.__version__.split(".")[:2])
    return {"l1_ratios": (1.0,)} if (major, minor) >= (1, 8) else {"penalty": "l1"}
