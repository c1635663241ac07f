#!/usr/bin/env bash
# Issue 10's device session: the original zkLLM (jvhs0706/zkllm-ccs2024) next to ours on one card.
# Usage, from the repo root on the device:
#   ORIG=path/to/orig_zkllm [ORIG_RUN=0] POOL_GIB=72 PREBUILT=.prebuilt \
#     bash benchmarks/gpu_issue10.sh "7b-layer 2048 300" ...
# ORIG holds the original's source with ../shared/baseline's gen7b.py, rmsinv.py and run7b.sh.
# If its binaries are not there yet they are built (make -j$ORIG_J, default 6) in the
# background while our benchmarks (gpu_layer_session.sh, same arguments) use the GPU, and are
# packed into $OUT/orig_bin.tgz so a later session can carry them instead of rebuilding. Then,
# unless ORIG_RUN=0, run7b.sh times the original's 7B layer (S=${S:-2048}) on the same GPU,
# after ours, with nothing else running.
set -uo pipefail
OUT=${OUT:-./gpu-out}; mkdir -p "$OUT"
SRC=$PWD
BINS="ppgen commit-param rmsnorm self-attn ffn skip-connection"
BUILD=""
if [ -n "${ORIG:-}" ]; then
  ORIG=$(cd "$ORIG" && pwd)
  if [ ! -x "$ORIG/ffn" ]; then
    (
      cd "$ORIG" || exit 1
      t=$(date +%s)
      INC=$(dirname "$(find /usr/local /opt /usr/include -name curand_kernel.h 2>/dev/null | head -1)")
      # shellcheck disable=SC2086
      nice make -j"${ORIG_J:-6}" NVCC=nvcc ARCH=sm_90 INCLUDES="-I$INC" LIBS= $BINS > build.log 2>&1
      echo "original: build rc=$? in $(( $(date +%s) - t )) s (make -j${ORIG_J:-6}, in the background)"
    ) > "$OUT/orig_build.txt" 2>&1 &
    BUILD=$!
  fi
fi
bash "$SRC/benchmarks/gpu_layer_session.sh" "$@"
if [ -n "${ORIG:-}" ]; then
  if [ -n "$BUILD" ]; then
    echo "waiting for the original's build $(date -u +%H:%M:%S)"; wait "$BUILD"
    cat "$OUT/orig_build.txt"; tail -5 "$ORIG/build.log"
    # shellcheck disable=SC2086
    (cd "$ORIG" && tar -czf "$OUT/orig_bin.tgz" $BINS && ls -la $BINS)
  fi
  if [ "${ORIG_RUN:-1}" != 0 ]; then
    mkdir -p /tmp/nomake && printf '#!/bin/sh\nexit 0\n' > /tmp/nomake/make && chmod +x /tmp/nomake/make
    echo "== original 7B layer, S=${S:-2048} $(date -u +%H:%M:%S)"
    PATH=/tmp/nomake:$PATH bash "$ORIG/run7b.sh" 2>&1 | tee "$OUT/orig_run.log"
  fi
fi
echo "session done $(date -u +%H:%M:%S)"
