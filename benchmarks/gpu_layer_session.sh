#!/usr/bin/env bash
# One device session for the layer benchmark (bench_layer.py on the GPU), logs under $OUT.
# Usage, from the repo root on the device: bash benchmarks/gpu_layer_session.sh "SHAPE SEQ SECONDS" ...
#   e.g. bash benchmarks/gpu_layer_session.sh "smollm2-layer 16 200" "7b-layer 32 150 --jit"
# (words after SECONDS are passed on to bench_layer.py)
# An argument "model SECONDS ARGS..." runs bench_model.py ARGS (a whole model) instead, e.g.
# issue 8's layers over several GPUs: "model 560 --shape 7b --layers 4 --seq 128 --devices 4
# --warm --baseline --no-verify".
# Native modules: if $PREBUILT names a folder holding _native_cpu/_native_cuda .so files built
# for the device's Python and jax (3.12 and jax 0.11.2 so far: XLA refuses handlers built against
# a newer jax's FFI headers, e.g. 0.12's API 0.5 on 0.11.2's 0.4; build with
# -DPython_EXECUTABLE=<a python3.12 with jax==0.11.2 and nanobind>; see BENCHMARKS.md), the
# package runs from a copy of the sources with
# them, after a check that they load and agree with the CPU on a field product; otherwise (or if
# that check fails) it is built here with CUDA (about 150 s on 16 cores).
# SITE (default /tmp/site) is that copy's folder: give concurrent sessions (one per GPU, with
# CUDA_VISIBLE_DEVICES) different ones.
# Every length runs in its own process (bench_layer.py), with JAX's persistent compilation
# cache shared between them and the proof verified on the host CPU.
set -uo pipefail
OUT=${OUT:-./gpu-out}; mkdir -p "$OUT"
LOG="$OUT/session.log"
export PYTHONUNBUFFERED=1
SRC=$PWD
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$LOG"
# XLA's pool: POOL_GIB GiB (e.g. 72 to behave like an 80 GB H100 on a larger card), else 92%.
if [ -n "${POOL_GIB:-}" ]; then
  total=$(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits | head -1)
  XLA_PYTHON_CLIENT_MEM_FRACTION=$(python3 -c "print(min(0.92, $POOL_GIB * 1024 / $total))")
fi
export XLA_PYTHON_CLIENT_MEM_FRACTION=${XLA_PYTHON_CLIENT_MEM_FRACTION:-0.92}
# One persistent compilation cache for every process of the session (and later calls on the same
# warm machine). On GPUs its keys leave out device ids, so one GPU's compilations serve the others.
export JAX_COMPILATION_CACHE_DIR=${JAX_COMPILATION_CACHE_DIR:-/tmp/jax-cache}
export JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0 JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES=0
echo "XLA pool fraction $XLA_PYTHON_CLIENT_MEM_FRACTION" | tee -a "$LOG"
check='import jax, jax.numpy as jnp, numpy as np, zkllm_jax.ffi as f
from zkllm_jax import field
assert f.HAS_CUDA_MODULE, "no CUDA module"
a = field.encode(jnp.arange(1, 1001, dtype=jnp.int32))
g = np.asarray(field.mul(a, a))
c = np.asarray(field.mul(jax.device_put(a, jax.devices("cpu")[0]), jax.device_put(a, jax.devices("cpu")[0])))
assert (g == c).all(), "GPU and CPU products differ"
print("cuda module OK:", jax.devices())'
ok=0
if [ -n "${PREBUILT:-}" ] && ls "$PREBUILT"/_native_cuda*.so > /dev/null 2>&1; then
  SITE=${SITE:-/tmp/site}
  rm -rf "$SITE" && mkdir -p "$SITE"
  cp -r "$SRC/zkllm_jax" "$SITE/" && rm -rf "$SITE/zkllm_jax/models" && cp -r "$SRC/models" "$SITE/zkllm_jax/models"
  cp "$PREBUILT"/_native_*.so "$SITE/zkllm_jax/"
  (cd /tmp && PYTHONPATH=$SITE python3 -c "$check") 2>&1 | tail -3 | tee -a "$LOG" \
    && (cd /tmp && PYTHONPATH=$SITE python3 -c "$check" > /dev/null 2>&1) && ok=1
  if [ $ok = 1 ]; then export PYTHONPATH=$SITE; echo "using prebuilt modules" | tee -a "$LOG"; fi
fi
if [ $ok = 0 ]; then
  t=$(date +%s)
  ZKLLM_CUDA=ON ZKLLM_CUDA_ARCHS=${ZKLLM_CUDA_ARCHS:-90} python3 -m pip install -q \
    --no-build-isolation --no-deps -C build-dir=/tmp/zkbuild . > /tmp/build.log 2>&1 \
    || { tail -60 /tmp/build.log | tee -a "$LOG"; exit 1; }
  echo "build $(( $(date +%s) - t )) s" | tee -a "$LOG"
  (cd /tmp && python3 -c "$check") 2>&1 | tail -3 | tee -a "$LOG"
fi
cd /tmp  # import the installed package (or /tmp/site), not the source tree
for b in "$@"; do
  if [[ $b == model\ * ]]; then
    read -r _ secs rest <<< "$b"
    echo "== model $rest (limit ${secs}s) $(date -u +%H:%M:%S)" | tee -a "$LOG"
    # shellcheck disable=SC2086
    timeout "$secs" python3 "$SRC/benchmarks/bench_model.py" --device gpu --verify-on cpu $rest \
      2>&1 | tee -a "$LOG"
    continue
  fi
  read -r shape seq secs extra <<< "$b"
  echo "== $shape seq $seq $extra (limit ${secs}s) $(date -u +%H:%M:%S)" | tee -a "$LOG"
  # shellcheck disable=SC2086
  timeout $(( secs + 10 )) python3 "$SRC/benchmarks/bench_layer.py" --device gpu --verify-on cpu \
    --cache "$JAX_COMPILATION_CACHE_DIR" --shape "$shape" --seq "$seq" --timeout "$secs" $extra 2>&1 \
    | tee -a "$LOG"
done
echo "done $(date -u +%H:%M:%S)" | tee -a "$LOG"
