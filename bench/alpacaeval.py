"""AlpacaEval 2.0's leaderboard against judgecli's report on the same annotations (issue 15).

    python bench/alpacaeval.py [DATA]      # DATA: ../shared/data/alpacaeval by default

Each ``<model>.annotations.json`` is converted (``judgecli convert alpacaeval``) and
reported; the table puts the leaderboard's win rate, standard error, discrete win rate and
length-controlled win rate (all %) beside judgecli's, with judgecli - leaderboard. The LC
figure here leaves out AlpacaEval's instruction-difficulty term (not available offline;
judgecli/report/alpacaeval.py), so it is compared by rank, not by value.
"""

from __future__ import annotations

import csv
import sys
import tempfile
from pathlib import Path
from typing import Any

from judgecli.io.jsonl import dumps
from judgecli.report import ReportOptions, build_report
from judgecli.report.convert import alpacaeval

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "alpacaeval"
LEADERBOARD = "weighted_alpaca_eval_gpt4_turbo_leaderboard.csv"
FIGURES = (("win_rate", "alpacaeval_win_rate"), ("standard_error", "alpacaeval_standard_error"),
           ("discrete_win_rate", "alpacaeval_discrete_win_rate"),
           ("length_controlled_winrate", "alpacaeval_lc_win_rate"))


def report(path: Path) -> dict[str, Any]:
    """``judgecli convert alpacaeval PATH > x.jsonl; judgecli report x.jsonl --json``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "judged.jsonl"
        out.write_text("".join(dumps(r) + "\n" for r in alpacaeval(str(path))),
                       encoding="utf-8")
        return build_report([str(out)], ReportOptions())[0]


def rows(data: Path) -> list[dict[str, Any]]:
    with open(data / LEADERBOARD, encoding="utf-8") as handle:
        board = {row[""]: row for row in csv.DictReader(handle)}
    out = []
    for path in sorted(data.glob("*.annotations.json")):
        model = path.name.removesuffix(".annotations.json")
        summary = report(path)
        row: dict[str, Any] = {"model": model}
        for published, ours in FIGURES:
            row[published] = float(board[model][published])
            row[ours] = summary[ours]
        out.append(row)
    return out


def main() -> None:
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    table = rows(data)
    print("| model | win rate LB / judgecli (diff) | SE LB / judgecli (diff) | discrete LB / "
          "judgecli (diff) | LC LB / judgecli w/o difficulty (diff) | LC rank LB / judgecli |")
    print("| --- | --- | --- | --- | --- | --- |")
    rank = {key: {r["model"]: k for k, r in enumerate(sorted(table, key=lambda r: -r[key]), 1)}
            for key in ("length_controlled_winrate", "alpacaeval_lc_win_rate")}
    for row in sorted(table, key=lambda r: -r["length_controlled_winrate"]):
        cells = [f"{row[p]:.4f} / {row[o]:.4f} ({row[o] - row[p]:+.1e})"
                 for p, o in FIGURES[:3]]
        p, o = FIGURES[3]
        cells.append(f"{row[p]:.2f} / {row[o]:.2f} ({row[o] - row[p]:+.2f})")
        cells.append(f"{rank[p][row['model']]} / {rank[o][row['model']]}")
        print(f"| {row['model']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
