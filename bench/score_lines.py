"""Score mode on the seven real tokenizer families × four templates: does it run, and is its
line the one an independent restricted greedy decoder writes (canonical)?

    python bench/score_lines.py                          # this checkout
    PYTHONPATH=/path/to/other/checkout python bench/score_lines.py   # another version

Tiny random Llama judges over ../shared/tokenizers; the reference decoder is the tests'
(tests/test_score_real_tokenizers.py), which shares no code with judgecli's trie. Prints a
Markdown table and the count of canonical combinations.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import judgecli  # noqa: E402
from test_score_real_tokenizers import (  # noqa: E402
    FAMILIES, PAIRS, SINGLES, TEMPLATES, TOKENIZERS, _lines, reference_line)


def main() -> None:
    from tiny_judge import build_model
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging

    from judgecli import JudgeOptions, Judging, load_judge, load_template
    from judgecli.io.records import to_item

    logging.disable_progress_bar()
    print(f"judgecli from {Path(judgecli.__file__).parent}")
    print("| tokenizer | " + " | ".join(TEMPLATES) + " |")
    print("|---" * (len(TEMPLATES) + 1) + "|")
    good = 0
    with tempfile.TemporaryDirectory() as tmp:
        for family in FAMILIES:
            folder = Path(tmp) / family
            tokenizer = AutoTokenizer.from_pretrained(TOKENIZERS / family)
            build_model(tokenizer, hidden=32, layers=1, heads=2, kv_heads=1, intermediate=64,
                        seed=len(family)).save_pretrained(folder)
            for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
                shutil.copy(TOKENIZERS / family / name, folder / name)
            judge = load_judge(str(folder), batch_size=4)
            model = AutoModelForCausalLM.from_pretrained(folder).eval()
            tokenizer = AutoTokenizer.from_pretrained(folder)
            cells = []
            for name in TEMPLATES:
                template = load_template(name)
                rows = PAIRS if template.kind == "pair" else SINGLES
                items = [to_item(dict(r, id=n), file="t", line=n) for n, r in enumerate(rows, 1)]
                try:
                    records = Judging(judge, JudgeOptions(template=template, mode="score")
                                      ).judge_items(items)
                except Exception as exc:  # the old code refuses by raising
                    cells.append(f"refused ({str(exc)[:40]}…)")
                    continue
                same = True
                for it, record in zip(items, records):
                    for entry in record["judgment"].get("orders") or []:
                        prompt = template.render(it, entry["order"]) \
                            if template.kind == "pair" else template.render(it)
                        expected = reference_line(model, tokenizer, prompt, _lines(template))
                        same &= entry["text"] == expected.strip()
                good += same
                cells.append("works, canonical" if same else "works, NOT canonical")
            print(f"| {family} | " + " | ".join(cells) + " |", flush=True)
    print(f"\ncanonical: {good} of {len(FAMILIES) * len(TEMPLATES)}")


if __name__ == "__main__":
    main()
