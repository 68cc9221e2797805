"""``--plot FILE.png`` (or ``.svg`` / ``.html``): reliability diagram and accuracy-coverage.

matplotlib is optional (``pip install 'judgecli[plot]'``) and imported only here, only when
a plot is asked for. The figure is drawn without pyplot, so no global backend is changed.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import JudgecliError, OutputError

FORMATS = (".png", ".svg", ".html")


def _rows(summaries: Sequence[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    rows = []
    for summary in summaries:
        rows.append((summary["file"], summary))
        rows.extend((f"{summary['file']} | {g['group']}", g) for g in summary.get("groups") or [])
    return [(title, s) for title, s in rows if s.get("calibration_bins")]


def write_plot(summaries: Sequence[dict[str, Any]], path: str) -> None:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise JudgecliError(f"--plot: use a file name ending in {', '.join(FORMATS)}")
    rows = _rows(summaries)
    if not rows:
        raise JudgecliError("--plot: nothing to plot; a reliability diagram needs gold labels "
                            "and judgments with `confidence`")
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise JudgecliError("--plot needs matplotlib: pip install 'judgecli[plot]'") from None
    figure = Figure(figsize=(11, 4.5), layout="constrained")
    diagram, coverage = figure.subplots(1, 2)
    diagram.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1,
                 label="perfect calibration")
    for title, summary in rows:
        bins = [b for b in summary["calibration_bins"] if b["n"]]
        diagram.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins],
                     marker="o", label=f"{title} (ECE {summary['ece']:.3f})")
        points = summary["accuracy_at_coverage"]
        coverage.plot([p["coverage"] for p in points], [p["accuracy"] for p in points],
                      marker="o", label=title)
    diagram.set(title="Reliability diagram (10 equal-width bins)", xlabel="confidence",
                ylabel="accuracy", xlim=(0, 1), ylim=(0, 1.02))
    coverage.set(title="Accuracy of the most confident items", xlabel="coverage",
                 ylabel="accuracy", xlim=(0.05, 1.02), ylim=(0, 1.02))
    for axes in (diagram, coverage):
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    try:
        if suffix == ".html":
            svg = io.StringIO()
            figure.savefig(svg, format="svg")
            Path(path).write_text(
                "<!doctype html>\n<meta charset=\"utf-8\">\n<title>judgecli report: "
                f"{html.escape(', '.join(t for t, _ in rows))}</title>\n"
                + svg.getvalue().split("?>", 1)[-1] + "\n", encoding="utf-8")
        else:
            figure.savefig(path, dpi=120)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror})") from None
