#!/bin/bash
# Issue 25: score mode (swap off, then on) and explain mode on a 7B-shaped random-weight judge,
# in one device call (its device time is counted, starts included). From the repository root:
#   run(command="BUDGET=460 bash bench/gpu.sh", carry=[".whl"], timeout_s=490)
# .whl/ (git-ignored) holds the wheels the device lacks, fetched here as the device README says:
# transformers==5.25.0 and its needs (huggingface_hub 2.x, httpx2, httpcore2, h11, truststore,
# idna, anyio, typing_extensions, regex cp312). Without them the image's transformers is used.
# Everything goes to $OUT/log.txt as it runs; each step's figures also to $OUT/figures.txt.
set -u
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
BUDGET=${BUDGET:-470}          # seconds this script may take in all (the call's limit is above)
START=$(date +%s)
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
LOG=$OUT/log.txt; FIG=$OUT/figures.txt
# For a CPU rehearsal: SIZE=25m DEV="--device cpu" SCORE_ARGS="--pairs 8 --loop-items 2"
# EXPLAIN_PAIRS=4 MAX_NEW=8 BUDGET=400 bash bench/gpu.sh
SIZE=${SIZE:-7b}; DEV=${DEV:-}; SCORE_ARGS=${SCORE_ARGS:-}
EXPLAIN_PAIRS=${EXPLAIN_PAIRS:-128}; MAX_NEW=${MAX_NEW:-512}
JUDGE=/tmp/judge-$SIZE
PY=python3
left() { echo $(( BUDGET - ($(date +%s) - START) )); }
# Seconds a step may take: what is left less $1 kept for later steps, at least $2.
lim() { local l=$(( $(left) - $1 )); echo $(( l > $2 ? l : $2 )); }
say() { echo "[gpu.sh +$(( $(date +%s) - START ))s] $*"; }

{
say "start"; date -u
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv || true
df -h /tmp | tail -1; nproc; free -g | head -2

# transformers 5.25 (the project's floor is 5.24) and what it needs beyond the image.
if $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site "${WHL:-$HERE/../.whl}"/*.whl; then
    export PYTHONPATH=/tmp/site
fi
cd "$HERE/.."
check='import torch, transformers, huggingface_hub, tokenizers, accelerate
from transformers import LlamaForCausalLM
import judgecli.backends.hf.judge
print("torch", torch.__version__, "cuda", torch.version.cuda, "|",
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU",
      "| transformers", transformers.__version__, transformers.__file__,
      "| huggingface_hub", huggingface_hub.__version__, "| tokenizers", tokenizers.__version__,
      "| accelerate", accelerate.__version__)'
if ! PYTHONPATH=${PYTHONPATH:-}:. $PY -c "$check"; then
    say "the carried transformers 5.25 does not import here: falling back to the image's own"
    export PYTHONPATH=
    PYTHONPATH=. $PY -c "$check" || { say "no working transformers"; exit 1; }
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}.
$PY --version
say "setup done"

say "1/3 score mode, swap off (builds the $SIZE judge into $JUDGE)"
timeout $(lim 0 30) $PY bench/throughput.py --quick --size $SIZE $DEV --no-swap \
    --judge-folder $JUDGE $SCORE_ARGS 2>&1 | tee /tmp/s1.txt
echo "== score swap off (+$(( $(date +%s) - START ))s)" >> $FIG; tail -7 /tmp/s1.txt >> $FIG
nvidia-smi --query-gpu=clocks.sm,temperature.gpu,power.draw --format=csv,noheader || true

say "2/3 explain mode, $EXPLAIN_PAIRS pairs, swap off, max_new_tokens $MAX_NEW"
timeout $(lim 120 60) $PY bench/explain.py --size $SIZE $DEV \
    --pairs $EXPLAIN_PAIRS --max-new-tokens $MAX_NEW --judge-folder $JUDGE 2>&1 | tee /tmp/s2.txt
echo "== explain (+$(( $(date +%s) - START ))s)" >> $FIG; tail -3 /tmp/s2.txt >> $FIG

say "3/3 score mode, swap on (one repeat, loop on 100 items); $(left) s left"
timeout $(lim 0 20) $PY bench/throughput.py --quick --size $SIZE $DEV \
    --judge-folder $JUDGE --repeats 1 --loop-items 100 $SCORE_ARGS 2>&1 | tee /tmp/s3.txt
echo "== score swap on (+$(( $(date +%s) - START ))s)" >> $FIG; tail -7 /tmp/s3.txt >> $FIG
say "done"; date -u
} 2>&1 | tee "$LOG"
