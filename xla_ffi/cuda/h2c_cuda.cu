// SHA-256, hash to curve and the ZCash point encoding on CUDA: one thread per row or point, on
// XLA's stream, no allocation or synchronisation. The per-row work is the same header code the
// CPU handlers run, so both back ends give identical bytes.
#include "cuda/map_cuda.cuh"
#include "zkllm/compress.h"
#include "zkllm/h2c.h"
#include "zkllm/sha256.h"
#include "zkllm/transcript.h"

namespace ffi = xla::ffi;
using zk::G1;

namespace {

// Applies a row functor F (F::operator()(i) on the device) to i in [0, n).
template <class F>
__global__ void rows_kernel(F f, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x)
    f(i);
}

template <class F>
ffi::Error launch_rows(cudaStream_t s, const F& f, size_t n, unsigned block, const char* what) {
  if (n == 0) return ffi::Error::Success();
  rows_kernel<F><<<zk::cuda::grid_for(n, block), block, 0, s>>>(f, n);
  return zk::cuda::last_error(what);
}

struct Sha256Row {
  const uint8_t* in;
  size_t len;
  uint8_t* out;
  __device__ void operator()(size_t i) const { zk::sha256(in + i * len, len, out + 32 * i); }
};

struct HashToCurveRow {
  const uint8_t* msgs;
  size_t len;
  const uint8_t* dst;
  int dst_len;
  uint32_t* out;
  __device__ void operator()(size_t i) const {
    zk::h2c::hash_to_curve(msgs + i * len, len, dst, dst_len).store(out + 36 * i);
  }
};

struct CompressRow {
  const uint32_t* pts;
  uint8_t* out;
  __device__ void operator()(size_t i) const {
    zk::zcash::compress(G1::load(pts + 36 * i).to_affine(), out + 48 * i);
  }
};

struct DecompressRow {
  const uint8_t* enc;
  uint32_t* pts;
  uint32_t* status;
  __device__ void operator()(size_t i) const {
    G1 p;
    status[i] = zk::zcash::decompress(enc + 48 * i, p);
    p.store(pts + 36 * i);
  }
};

ffi::Error Sha256Rows(cudaStream_t s, ffi::Buffer<ffi::U8> msgs, ffi::ResultBuffer<ffi::U8> out) {
  size_t n = out->element_count() / 32;
  if (n == 0) return ffi::Error::Success();
  if (msgs.element_count() % n)
    return ffi::Error::InvalidArgument("sha256: message bytes are not a whole number of rows");
  size_t len = msgs.element_count() / n;
  return launch_rows(s, Sha256Row{msgs.typed_data(), len, out->typed_data()}, n, 128,
                     "sha256 kernel");
}

ffi::Error HashToCurve(cudaStream_t s, ffi::Buffer<ffi::U8> msgs, ffi::Buffer<ffi::U8> dst,
                       ffi::ResultBuffer<ffi::U32> out) {
  size_t n = out->element_count() / 36;
  size_t d = dst.element_count();
  if (d == 0 || d > 255)
    return ffi::Error::InvalidArgument("g1_hash_to_curve: the DST must be 1..255 bytes");
  if (n == 0) return ffi::Error::Success();
  if (msgs.element_count() % n)
    return ffi::Error::InvalidArgument("g1_hash_to_curve: message bytes are not whole rows");
  size_t len = msgs.element_count() / n;
  return launch_rows(
      s, HashToCurveRow{msgs.typed_data(), len, dst.typed_data(), (int)d, out->typed_data()}, n,
      128, "g1_hash_to_curve kernel");
}

ffi::Error Compress(cudaStream_t s, ffi::Buffer<ffi::U32> pts, ffi::ResultBuffer<ffi::U8> out) {
  size_t n = out->element_count() / 48;
  if (pts.element_count() != 36 * n)
    return ffi::Error::InvalidArgument("g1_compress: operand size mismatch");
  return launch_rows(s, CompressRow{pts.typed_data(), out->typed_data()}, n, 128,
                     "g1_compress kernel");
}

ffi::Error Decompress(cudaStream_t s, ffi::Buffer<ffi::U8> enc, ffi::ResultBuffer<ffi::U32> out,
                      ffi::ResultBuffer<ffi::U32> status) {
  size_t n = status->element_count();
  if (enc.element_count() != 48 * n || out->element_count() != 36 * n)
    return ffi::Error::InvalidArgument("g1_decompress: operand size mismatch");
  return launch_rows(s, DecompressRow{enc.typed_data(), out->typed_data(), status->typed_data()},
                     n, 128, "g1_decompress kernel");
}

__global__ void transcript_step_kernel(const uint8_t* state, const uint32_t* x, size_t k,
                                       const uint8_t* am, size_t al, const uint8_t* sm,
                                       size_t sl, uint8_t* state_out, uint32_t* c, size_t n) {
  zk::transcript::absorb_challenges(state, x, k, am, al, sm, sl, state_out, c, n);
}

// One thread: the step is sequential hashing (a few SHA-256 blocks), a single launch.
ffi::Error TranscriptStep(cudaStream_t s, ffi::Buffer<ffi::U8> state, ffi::Buffer<ffi::U32> x,
                          ffi::Buffer<ffi::U8> absorb_meta, ffi::Buffer<ffi::U8> squeeze_meta,
                          ffi::ResultBuffer<ffi::U8> state_out,
                          ffi::ResultBuffer<ffi::U32> challenges) {
  if (!zk::transcript::step_shapes_ok(state.element_count(), x.element_count(),
                                      state_out->element_count(), challenges->element_count()))
    return ffi::Error::InvalidArgument("transcript_step: bad shapes");
  transcript_step_kernel<<<1, 1, 0, s>>>(
      state.typed_data(), x.typed_data(), x.element_count() / 8, absorb_meta.typed_data(),
      absorb_meta.element_count(), squeeze_meta.typed_data(), squeeze_meta.element_count(),
      state_out->typed_data(), challenges->typed_data(), challenges->element_count() / 8);
  return zk::cuda::last_error("transcript_step kernel");
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_transcript_step_cuda, TranscriptStep,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Arg<ffi::Buffer<ffi::U8>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U8>>()
                                  .Arg<ffi::Buffer<ffi::U8>>()
                                  .Ret<ffi::Buffer<ffi::U8>>()
                                  .Ret<ffi::Buffer<ffi::U32>>(),
                              ZK_CMD_BUFFER);
XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_sha256_cuda, Sha256Rows,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Arg<ffi::Buffer<ffi::U8>>()
                                  .Ret<ffi::Buffer<ffi::U8>>(),
                              ZK_CMD_BUFFER);
XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_g1_hash_to_curve_cuda, HashToCurve,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Arg<ffi::Buffer<ffi::U8>>()
                                  .Arg<ffi::Buffer<ffi::U8>>()
                                  .Ret<ffi::Buffer<ffi::U32>>(),
                              ZK_CMD_BUFFER);
XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_g1_compress_cuda, Compress,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U8>>(),
                              ZK_CMD_BUFFER);
XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_g1_decompress_cuda, Decompress,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Arg<ffi::Buffer<ffi::U8>>()
                                  .Ret<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>(),
                              ZK_CMD_BUFFER);
