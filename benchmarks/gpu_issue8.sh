#!/usr/bin/env bash
# Issue 8's device session: the whole-model prover with its layers split over several GPUs.
# Usage, from the repo root on a multi-GPU device (builds the CUDA module unless SKIP_BUILD=1):
#   bash benchmarks/gpu_issue8.sh "DEVICES LAYERS SEQ [extra bench_model args]" ...
# Each spec runs benchmarks/bench_model.py --device gpu --shape 7b (random weights) with the
# layers split over the first DEVICES GPUs (JIT=1: one SPMD program for the layers' steps,
# else each device's layers eagerly), proving twice (--warm: the second prove is the compiled
# steady state); logs and JSON lines go to $OUT/bench.log.
set -uo pipefail
OUT=${OUT:-./gpu-out}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/card.txt"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  t=$(date +%s)
  ZKLLM_CUDA=ON ZKLLM_CUDA_ARCHS=${ZKLLM_CUDA_ARCHS:-90} python3 -m pip install -q \
    --no-build-isolation --no-deps -C build-dir=/tmp/zkbuild . > "$OUT/build.log" 2>&1 \
    || { tail -60 "$OUT/build.log"; exit 1; }
  echo "build $(( $(date +%s) - t )) s"
fi
SRC=$PWD
cd /tmp || exit 1  # import the installed package, not the source tree
for spec in "$@"; do
  read -r n layers seq extra <<< "$spec"
  echo "== $(date -u +%H:%M:%S) devices $n, 7b-shaped, $layers layers, seq $seq $extra"
  # shellcheck disable=SC2086
  timeout "${BENCH_TIMEOUT:-540}" python3 "$SRC/benchmarks/bench_model.py" --device gpu \
    --shape 7b --layers "$layers" --seq "$seq" --devices "$n" ${JIT:+--jit} --warm $extra 2>&1 \
    | grep -v "^E0000\|^W0000" | tee -a "$OUT/bench.log" | tail -4
done
echo "session done $(date -u +%H:%M:%S)"
