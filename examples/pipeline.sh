#!/bin/sh
# judgecli at work offline, with the bundled demo judge (examples/demo-judge, a 4 MB model
# trained by examples/train_demo_judge.py). Run from the repository root:
#
#     sh examples/pipeline.sh
#
# Judge the 50 labelled quickstart pairs in score mode, both orders (the defaults), keep the
# judgments in judged.jsonl and print agreement with the gold labels, position consistency
# and confidence.
set -eu

judgecli judge examples/pairs.jsonl --judge examples/demo-judge --template judgelm-pair-ref -q \
    | tee judged.jsonl \
    | judgecli report -

# The same judge on pairs in and out of its domain (the `domain` field passes through):
# it should be less sure of itself on the open-ended questions it never saw.
#
#     judgecli judge examples/labelled.jsonl --judge examples/demo-judge \
#         --template judgelm-pair-ref -q -o labelled.judged.jsonl
