"""PPI++: prediction-powered inference with power tuning (Angelopoulos, Duchi & Zrnic,
"PPI++: Efficient Prediction-Powered Inference", arXiv:2311.01453, 2023).

A few items have a person's label Y, every item has the judge's prediction Ŷ. The mean of Y
over all items is estimated as

    θ̂ = λ · mean(Ŷ over the N unlabelled items) + mean(Y - λ Ŷ over the n labelled ones)

which is unbiased for any λ when the labelled items are a uniform random subset; λ is
chosen from the data to make its variance smallest (λ = 0: the labels alone; λ = 1: plain
PPI). Its interval is the normal one, θ̂ ± z(1 - α/2) · se, with
se² = var(λ Ŷ_unlabelled) / N + var(Y - λ Ŷ_labelled) / n.

This is a re-statement, with numpy only, of ppi-python 0.2.3 (PyPI; ppi_py/ppi.py, the same
functions as aangelopoulos/ppi_py at commit 04d6725): ``ppi_mean_pointestimate`` and
``ppi_mean_ci`` with ``lam=None`` (power-tuned, ``lam_optim_mode="overall"``, no weights),
whose λ is ``_calc_lam_glm`` (clipped to [0, 1]) evaluated at the λ = 1 estimate, and
``ppi_logistic_pointestimate`` / ``ppi_logistic_ci`` (``_logistic_get_stats``) for the
Bradley-Terry ratings. Variances are numpy's: ``std`` with ddof 0 in the mean's interval,
``np.cov`` (ddof 1) in λ and in the logistic interval, as there. The classical interval is
``ppi_py.baselines.classical_mean_ci`` (the labels alone, ddof 0) and, for the ratings, the
same sandwich interval with λ = 0. ``tests/test_report_ppi.py`` checks all of them against
ppi_py itself.

Two departures, where ppi_py returns NaN: a judge whose prediction is one value on every
item has no variance to tune λ on, and λ is 0 (the labels alone); the logistic fit is
Newton's method on the rectified loss (convex for λ in [0, 1]) instead of L-BFGS from
scikit-learn's fit of the labels, which reaches the same minimum more tightly and takes
fractional labels (a tie is y = 0.5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


def z_value(alpha: float) -> float:
    """The two-sided normal quantile z(1 - α/2), as statsmodels' ``_zconfint_generic``."""
    from scipy.special import ndtri

    return float(ndtri(1.0 - alpha / 2.0))


@dataclass(frozen=True)
class MeanEstimate:
    estimate: float
    ci: tuple[float, float]
    lam: float
    classical_estimate: float
    classical_ci: tuple[float, float]
    effective_labels: float | None  # n x (classical variance / PPI++ variance)


def tuned_lambda(y: np.ndarray, yhat: np.ndarray, yhat_unlabelled: np.ndarray) -> float:
    """``_calc_lam_glm`` for the mean (identity Hessian, d = 1), at the λ = 1 estimate."""
    n, big_n = len(y), len(yhat_unlabelled)
    theta = yhat_unlabelled.mean() + (y - yhat).mean()
    grads, grads_hat = y - theta, yhat - theta
    centred, centred_hat = grads - grads.mean(), grads_hat - grads_hat.mean()
    cov = 2.0 * float(centred @ centred_hat) / n
    var_hat = float(np.var(np.concatenate([grads_hat, yhat_unlabelled - theta]), ddof=1))
    if not var_hat > 0:
        return 0.0  # one prediction everywhere: nothing to tune on (ppi_py: NaN)
    return float(np.clip(cov / (2.0 * (1.0 + n / big_n) * var_hat), 0.0, 1.0))


def ppi_mean(y: np.ndarray, yhat: np.ndarray, yhat_unlabelled: np.ndarray,
             alpha: float) -> MeanEstimate:
    """The PPI++ mean of ``y`` and its 1 - ``alpha`` interval; n >= 2 and N >= 1."""
    y, yhat, yhat_u = (np.asarray(a, dtype=np.float64) for a in (y, yhat, yhat_unlabelled))
    n, big_n = len(y), len(yhat_u)
    z = z_value(alpha)
    lam = tuned_lambda(y, yhat, yhat_u)
    rectifier = y - lam * yhat
    estimate = float(lam * yhat_u.mean() + rectifier.mean())
    se = math.sqrt(float(np.std(lam * yhat_u)) ** 2 / big_n
                   + float(np.std(rectifier)) ** 2 / n)
    classical = float(y.mean())
    classical_se = float(np.std(y)) / math.sqrt(n)
    return MeanEstimate(
        estimate=estimate, ci=(estimate - z * se, estimate + z * se), lam=lam,
        classical_estimate=classical,
        classical_ci=(classical - z * classical_se, classical + z * classical_se),
        effective_labels=n * classical_se ** 2 / se ** 2 if se > 0 else None)


# --- logistic regression (the Bradley-Terry ratings) -------------------------------------

def _expit(t: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -t))


def _loss(theta: np.ndarray, data: LogisticData, lam: float) -> float:
    def part(x: np.ndarray, y: np.ndarray) -> float:
        t = x @ theta
        return float(np.sum(np.logaddexp(0.0, t) - y * t))

    return (lam / data.big_n * part(data.x_u, data.yhat_u)
            - lam / data.n * part(data.x, data.yhat) + part(data.x, data.y) / data.n)


@dataclass(frozen=True)
class LogisticData:
    x: np.ndarray  # n x d, the labelled rows
    y: np.ndarray  # labels in [0, 1] (a tie 0.5)
    yhat: np.ndarray  # predictions on the labelled rows
    x_u: np.ndarray  # N x d, the unlabelled rows
    yhat_u: np.ndarray

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def big_n(self) -> int:
        return len(self.yhat_u)


class NoFit(ValueError):
    """The rectified loss has no finite minimum (a rating runs off to infinity) or its
    Hessian is singular (a model without games)."""


def fit(data: LogisticData, lam: float, *, max_steps: int = 200) -> np.ndarray:
    """The minimiser of ppi_logistic_pointestimate's ``rectified_logistic_loss`` for a given
    λ, by Newton's method with step halving (the loss is convex for λ in [0, 1]: its Hessian
    is λ/N X_uᵀ D_u X_u + (1 - λ)/n Xᵀ D X)."""
    theta = np.zeros(data.x.shape[1])
    value = _loss(theta, data, lam)
    for _ in range(max_steps):
        mu, mu_u = _expit(data.x @ theta), _expit(data.x_u @ theta)
        grad = (lam / data.big_n * data.x_u.T @ (mu_u - data.yhat_u)
                - lam / data.n * data.x.T @ (mu - data.yhat)
                + data.x.T @ (mu - data.y) / data.n)
        hessian = (lam / data.big_n * (data.x_u.T * (mu_u * (1 - mu_u))) @ data.x_u
                   + (1 - lam) / data.n * (data.x.T * (mu * (1 - mu))) @ data.x)
        try:
            step = np.linalg.solve(hessian, grad)
        except np.linalg.LinAlgError as exc:
            raise NoFit("singular Hessian") from exc
        shrink = 1.0
        while shrink > 1e-10:
            trial = theta - shrink * step
            trial_value = _loss(trial, data, lam)
            if trial_value <= value + 1e-15 * abs(value):
                break
            shrink /= 2
        theta, value = trial, trial_value
        if np.max(np.abs(theta)) > 40:
            raise NoFit("a rating runs off to infinity")
        if np.max(np.abs(shrink * step)) < 1e-13:
            return theta
    raise NoFit("Newton's method did not converge")


def _stats(theta: np.ndarray, data: LogisticData, use_unlabelled: bool = True,
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``_logistic_get_stats``: per-row gradients of the labels, of the predictions on the
    labelled and the unlabelled rows, and the inverse Hessian (over all n + N rows, or the
    labelled ones only)."""
    n, big_n = data.n, data.big_n
    mu, mu_u = _expit(data.x @ theta), _expit(data.x_u @ theta)
    hessian = (data.x.T * (mu * (1 - mu))) @ data.x
    if use_unlabelled:
        hessian = (hessian + (data.x_u.T * (mu_u * (1 - mu_u))) @ data.x_u) / (n + big_n)
        grads_hat_u = data.x_u * (mu_u - data.yhat_u)[:, None]
    else:
        hessian = hessian / n
        grads_hat_u = np.zeros_like(data.x_u)
    grads = data.x * (mu - data.y)[:, None]
    grads_hat = data.x * (mu - data.yhat)[:, None]
    try:
        inverse = np.linalg.inv(hessian)
    except np.linalg.LinAlgError as exc:
        raise NoFit("singular Hessian") from exc
    return grads, grads_hat, grads_hat_u, inverse


def _glm_lambda(grads: np.ndarray, grads_hat: np.ndarray, grads_hat_u: np.ndarray,
                inverse: np.ndarray) -> float:
    """``_calc_lam_glm`` (coord None, "overall", clip=True)."""
    n, big_n, d = len(grads), len(grads_hat_u), inverse.shape[0]
    centred, centred_hat = grads - grads.mean(axis=0), grads_hat - grads_hat.mean(axis=0)
    cov = (centred.T @ centred_hat + centred_hat.T @ centred) / n
    var_hat = np.cov(np.concatenate([grads_hat, grads_hat_u]).T).reshape(d, d)
    denominator = 2 * (1 + n / big_n) * np.trace(inverse @ var_hat @ inverse)
    if not denominator > 0:
        return 0.0
    return float(np.clip(np.trace(inverse @ cov @ inverse) / denominator, 0.0, 1.0))


def _interval(data: LogisticData, lam: float, z: float,
              ) -> tuple[np.ndarray, np.ndarray]:
    """``ppi_logistic_ci`` for a given λ: the estimate and its standard errors."""
    theta = fit(data, lam)
    grads, grads_hat, grads_hat_u, inverse = _stats(theta, data, use_unlabelled=lam != 0)
    d = len(theta)
    var_u = np.cov((lam * grads_hat_u).T).reshape(d, d)
    var = np.cov((grads - lam * grads_hat).T).reshape(d, d)
    sigma = inverse @ (data.n / data.big_n * var_u + var) @ inverse
    return theta, np.sqrt(np.diag(sigma) / data.n)


@dataclass(frozen=True)
class LogisticEstimate:
    estimate: np.ndarray  # ppi_logistic_pointestimate
    ci: np.ndarray  # d x 2, ppi_logistic_ci
    lam: float  # the interval's λ
    classical_estimate: np.ndarray | None  # the labels alone (λ = 0); None: no finite fit
    classical_ci: np.ndarray | None


def ppi_logistic(data: LogisticData, alpha: float) -> LogisticEstimate:
    """Power-tuned PPI++ logistic regression, as ppi_py computes it with ``lam=None``.

    Its point estimate and its interval take their λ at different points, and so do these:
    the estimate's λ is computed at the λ = 1 fit, the interval's at the tuned estimate
    (``ppi_logistic_ci`` calls ``ppi_logistic_pointestimate`` and tunes again), so the
    estimate need not be the interval's centre."""
    z = z_value(alpha)
    lam_point = _glm_lambda(*_stats(fit(data, 1.0), data))
    estimate = fit(data, lam_point)
    lam = _glm_lambda(*_stats(estimate, data))
    centre, se = _interval(data, lam, z)
    ci = np.c_[centre - z * se, centre + z * se]
    try:
        classical, classical_se = _interval(data, 0.0, z)
        classical_ci: np.ndarray | None = np.c_[classical - z * classical_se,
                                                classical + z * classical_se]
    except NoFit:
        classical, classical_ci = None, None
    return LogisticEstimate(estimate, ci, lam, classical, classical_ci)


def as_list(pair: Any) -> list[float]:
    return [float(pair[0]), float(pair[1])]
