"""Grades against numeric labels: the figures from the table of (grade, label) counts equal
scipy's and scikit-learn's on the items, and the table is used exactly where it can be."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import mean_absolute_error

from judgecli.report import grades
from judgecli.report.grades import numeric_figures


def _expected(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    out = {"mae": mean_absolute_error(y, x)}
    for name, test in (("pearson", stats.pearsonr), ("spearman", stats.spearmanr),
                       ("kendall", stats.kendalltau)):
        result = test(x, y)
        out[name], out[name + "_p"] = result.statistic, result.pvalue
    return out


CASES = {
    "1-10, close": lambda rng, n: (lambda y: (np.clip(y + rng.integers(-2, 3, n), 1, 10), y))(
        rng.integers(1, 11, n).astype(float)),
    "halves against 1-5, reversed": lambda rng, n: (
        lambda y: (np.clip(6 - y + rng.integers(-1, 2, n) / 2, 1, 5), y))(
        rng.integers(1, 6, n).astype(float)),
    "weak": lambda rng, n: (rng.integers(1, 4, n).astype(float),
                            rng.integers(0, 3, n).astype(float)),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("n", [12, 40, 3000])
def test_table_figures_equal_scipys(monkeypatch, case: str, n: int) -> None:
    rng = np.random.default_rng(n)
    x, y = CASES[case](rng, n)
    monkeypatch.setattr(grades, "SLICE", 7)  # the table is counted across slices
    assert grades._table(x, y) is not None  # these columns have ties: the table is used
    out, want = numeric_figures(x, y), _expected(x, y)
    for key, value in want.items():
        assert out[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key


def test_items_go_to_scipy_without_ties_or_with_many_values() -> None:
    rng = np.random.default_rng(2)
    distinct = rng.permutation(30).astype(float)
    assert grades._table(distinct, distinct[::-1].copy()) is None  # no ties: exact Kendall p
    x = rng.random(2000)
    y = np.round(x * 4)
    assert grades._table(x, y) is None  # 2000 distinct grades
    out, want = numeric_figures(x, y), _expected(x, y)
    for key, value in want.items():
        assert out[key] == pytest.approx(value, rel=1e-12), key


def test_missing_values_are_left_out_and_constants_have_no_correlation() -> None:
    x = np.array([1.0, 2.0, np.nan, 4.0, 4.0, 2.0])
    y = np.array([1.0, 3.0, 5.0, np.nan, 4.0, 3.0])
    out = numeric_figures(x, y)
    want = _expected(np.array([1.0, 2.0, 4.0, 2.0]), np.array([1.0, 3.0, 4.0, 3.0]))
    assert out["mae"] == pytest.approx(want["mae"])
    assert out["spearman"] == pytest.approx(want["spearman"])
    same = numeric_figures(np.full(5, 3.0), np.arange(5.0))
    assert same["pearson"] is None and same["mae"] == pytest.approx(1.4)


def test_a_million_grades_cost_a_few_bytes_an_item() -> None:
    rng = np.random.default_rng(0)
    n = 300_000
    y = rng.integers(1, 11, n).astype(float)
    x = np.clip(y + rng.integers(-2, 3, n), 1, 10)
    numeric_figures(x[:1000], y[:1000])
    tracemalloc.start()
    try:
        numeric_figures(x, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # np.unique's sorted copy of a column (8 bytes) at its peak; scipy on the items: ~80.
    assert peak / n < 20, f"{peak / n:.1f} bytes an item"
