// SHA-256 over rows of bytes, for the CPU platform.
#include <algorithm>

#include "xla/ffi/api/ffi.h"
#include "zkllm/parallel.h"
#include "zkllm/sha256.h"
#include "zkllm/transcript.h"

namespace ffi = xla::ffi;

namespace {

// msgs: uint8[n, L] (any L >= 0, fixed per call) -> digests uint8[n, 32].
ffi::Error Sha256Rows(ffi::Buffer<ffi::U8> msgs, ffi::ResultBuffer<ffi::U8> out) {
  size_t n = out->element_count() / 32;
  if (n == 0) return ffi::Error::Success();
  if (msgs.element_count() % n)
    return ffi::Error::InvalidArgument("sha256: message bytes are not a whole number of rows");
  size_t len = msgs.element_count() / n;
  const uint8_t* in = msgs.typed_data();
  uint8_t* po = out->typed_data();
  // Threads only pay off past ~100 us of hashing (a block costs ~0.2 us).
  size_t min_chunk = std::max<size_t>(1, (size_t{1} << 19) / (len + 64));
  zk::parallel_for(n, min_chunk, [&](size_t i) { zk::sha256(in + i * len, len, po + 32 * i); });
  return ffi::Error::Success();
}

// state uint8[32], x Fr[k, 8], the absorb and squeeze headers (uint8) -> state uint8[32],
// challenges Fr[n, 8] (zkllm/transcript.h).
ffi::Error TranscriptStep(ffi::Buffer<ffi::U8> state, ffi::Buffer<ffi::U32> x,
                          ffi::Buffer<ffi::U8> absorb_meta, ffi::Buffer<ffi::U8> squeeze_meta,
                          ffi::ResultBuffer<ffi::U8> state_out,
                          ffi::ResultBuffer<ffi::U32> challenges) {
  if (!zk::transcript::step_shapes_ok(state.element_count(), x.element_count(),
                                      state_out->element_count(), challenges->element_count()))
    return ffi::Error::InvalidArgument("transcript_step: bad shapes");
  zk::transcript::absorb_challenges(state.typed_data(), x.typed_data(), x.element_count() / 8,
                                    absorb_meta.typed_data(), absorb_meta.element_count(),
                                    squeeze_meta.typed_data(), squeeze_meta.element_count(),
                                    state_out->typed_data(), challenges->typed_data(),
                                    challenges->element_count() / 8);
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_transcript_step_cpu, TranscriptStep,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::U8>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U8>>()
                                  .Arg<ffi::Buffer<ffi::U8>>()
                                  .Ret<ffi::Buffer<ffi::U8>>()
                                  .Ret<ffi::Buffer<ffi::U32>>());
XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_sha256_cpu, Sha256Rows,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::U8>>()
                                  .Ret<ffi::Buffer<ffi::U8>>());
