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
#     judgecli report labelled.judged.jsonl --by domain
#
# A panel: the demo judge with the reference-supported template and without it, voting by
# majority; the report has a row per member and Krippendorff's alpha of the two.
#
#     judgecli judge examples/labelled.jsonl --judge examples/demo-judge \
#         --judge examples/demo-judge -t judgelm-pair-ref -t judgelm-pair -q -o panel.jsonl
#     judgecli report panel.jsonl --by domain
#
# With an OpenAI-compatible server at hand, a second-level review of each verdict:
#
#     judgecli judge examples/pairs.jsonl --judge examples/demo-judge -t judgelm-pair-ref \
#         --review-judge openai:gpt-4o-mini -o reviewed.jsonl
#     judgecli report reviewed.jsonl
