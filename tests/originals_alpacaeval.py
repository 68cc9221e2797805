"""Runs alpaca_eval's own ``get_length_controlled_winrate`` (alpaca-eval 0.6.6 from PyPI) on
an annotations file and a ``df_gamed.csv``, and prints its figures as JSON; run by
tests/test_alpacaeval_lc.py with a Python that has alpaca-eval installed.

    python tests/originals_alpacaeval.py ANNOTATIONS.json DF_GAMED.csv

alpaca_eval downloads ``df_gamed.csv`` from the Hugging Face hub at run time
(``glm_winrate._get_featurized_data`` calls ``hf_hub_download``); here that call returns the
given file instead, and nothing else of alpaca_eval is changed. Weights are not saved.
"""

import json
import sys


def main() -> None:
    annotations_path, gamed_path = sys.argv[1:3]
    from alpaca_eval.metrics import glm_winrate

    glm_winrate.hf_hub_download = lambda *args, **kwargs: gamed_path
    with open(annotations_path, encoding="utf-8") as handle:
        annotations = json.load(handle)
    metrics = glm_winrate.get_length_controlled_winrate(
        annotations, save_weights_dir=None, is_warn_extreme_changes=False)
    print(json.dumps({k: float(v) for k, v in metrics.items()}))


if __name__ == "__main__":
    main()
