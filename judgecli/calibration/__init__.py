"""``judgecli calibrate``: which indicator predicts a judge's correctness, a calibrated
confidence, and the threshold below which a cascade escalates to a stronger judge.

From labelled judgments (gold labels from people, or from a teacher judge such as GPT-4):

* for each indicator (indicators.py): AUROC for correctness, accuracy at coverage and, for
  the probability-valued ones, expected calibration error (report/reliability.py); the same
  for the recorded ``judgment.confidence``, equal to ``verdict_prob`` in files judged now,
  shown so that files from earlier versions (whose strict-rule confidence was another
  quantity) can be compared;
* temperature scaling (Guo et al. 2017): one T, fitted by maximum likelihood on the gold
  labels, applied to the verdict distribution averaged over the orders, so that
  ``confidence`` becomes calibrated;
* the escalation policy, as in Huang et al. 2024's cascade: keep the local judge's verdicts
  whose indicator is at least ``threshold`` (optionally only if both orders agree) and send
  the rest to the fallback judge. ``--target-accuracy``: the fewest escalations for which
  the kept verdicts are that accurate (so the cascade is, if the fallback is); ``--budget``:
  escalate that share of the items, the least trustworthy first.

A cascade of several judges (``calibrate --fallback J2 --fallback J3``) is calibrated stage
by stage on the items the stages before it escalated (``stages``; Trust or Escalate's
Cascaded Selective Evaluation).

The package: ``files`` (labelled judgments in, calibration.json out), ``fit`` (the figures
and the threshold), ``stages`` (a cascade of several judges), ``run`` (judging labelled
items), ``render`` (the terminal table).
"""

from __future__ import annotations

from .files import (
    FORMAT,
    VERDICTS,
    CalibrationError,
    Labelled,
    check_fits,
    dump,
    labelled_from,
    load_calibration,
    read_labelled,
)
from .fit import (
    ALPHAS,
    INDICATORS,
    NO_INDICATOR,
    PROBABILITIES,
    calibrate,
    choose,
    escalate_mask,
    fit_temperature,
    policy_curve,
    scaled,
    simulate,
)
from .run import judge_labelled

__all__ = ["ALPHAS", "FORMAT", "INDICATORS", "NO_INDICATOR", "PROBABILITIES", "VERDICTS",
           "CalibrationError",
           "Labelled", "calibrate", "check_fits", "choose", "dump", "escalate_mask",
           "fit_temperature", "judge_labelled", "labelled_from", "load_calibration",
           "policy_curve", "read_labelled", "scaled", "simulate"]
