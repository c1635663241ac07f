#!/usr/bin/env bash
# One batched device session: build with CUDA, run the GPU tests, run the GPU benchmarks.
# Usage (on the device, from the repo root): bash tools/gpu_session.sh ["bench.py args" ...]
# Environment: TESTS (pytest targets, default: the whole tests/ folder with -m gpu).
# Logs go to $OUT (or ./gpu-out) so they come back even if a step fails.
set -uo pipefail
OUT=${OUT:-./gpu-out}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/card.txt"
t=$(date +%s)
ZKLLM_CUDA=ON ZKLLM_CUDA_ARCHS=${ZKLLM_CUDA_ARCHS:-90} python3 -m pip install -q --no-build-isolation \
  --no-deps -C build-dir=/tmp/zkbuild . > "$OUT/build.log" 2>&1 || { tail -60 "$OUT/build.log"; exit 1; }
echo "build $(( $(date +%s) - t )) s"
cd /tmp  # import the installed package, not the source tree
python3 -c "import zkllm_jax.ffi as f, jax; print('cuda module:', f.HAS_CUDA_MODULE, jax.devices())"
SRC=$OLDPWD
timeout 900 python3 -m pytest -q -m gpu -p no:cacheprovider --rootdir "$SRC" \
  $(for t in ${TESTS:-tests}; do echo "$SRC/$t"; done) 2>&1 \
  | tee "$OUT/gpu_tests.log" | tail -25
for b in "$@"; do
  script=${b%% *}; args=${b#"$script"}
  echo "== $b"
  # shellcheck disable=SC2086
  timeout 600 python3 "$SRC/$script" $args 2>&1 | tee "$OUT/$(basename "$script" .py).log" | tail -30
done
