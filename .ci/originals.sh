#!/usr/bin/env sh
# The published judges' own packages, as `pip install` gives them, for the differential tests
# (tests/test_originals_installed.py): prometheus-eval 0.1.20 and alpaca-eval 0.6.6 need
# newer huggingface_hub, openai and httpx than judgecli's environment, so they get their own
# virtual environment. Usage: sh .ci/originals.sh VENV; then JUDGECLI_ORIGINALS_PYTHON=VENV/bin/python.
set -eu
venv="${1:?usage: sh .ci/originals.sh VENV}"
python -m venv "$venv"
"$venv/bin/pip" install -q "prometheus-eval==0.1.20" "alpaca-eval==0.6.6" "setuptools<81"
