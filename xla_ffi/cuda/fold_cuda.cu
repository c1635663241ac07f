// fr_fold_rows_i32 on CUDA: eᵀ·M for an int32 matrix M [rows, cols] (as uint32 bits) and a field
// vector e [rows, 8] -> Fr [cols, 8], with the CPU handler's wide accumulation
// (zkllm/fold_i32.h), so both give the same limbs.
//
// Pass 1: thread (chunk, j) sums rows [chunk·per, (chunk+1)·per) of column j into a wide partial
// (adjacent threads read adjacent columns of a row: coalesced); column index `cols` stands for
// S = Σ e_i (m = 1, unbiased). Pass 2: one thread per column adds the chunks' partials and
// reduces once.
#include <algorithm>
#include <optional>

#include "cuda/map_cuda.cuh"
#include "zkllm/fold_i32.h"

namespace {

namespace ffi = xla::ffi;
using zk::Fr;
namespace fi = zk::fold_i32;

constexpr unsigned kBlock = 256;

__global__ void fold_partial_kernel(const uint32_t* m, const uint32_t* e, uint32_t* partial,
                                    size_t rows, size_t cols, size_t per, size_t chunks) {
  const size_t width = cols + 1;
  for (size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x; t < chunks * width;
       t += (size_t)gridDim.x * blockDim.x) {
    const size_t chunk = t / width, j = t - chunk * width;
    uint32_t acc[fi::kWide];
#pragma unroll
    for (int k = 0; k < fi::kWide; ++k) acc[k] = 0;
    const size_t i1 = min(rows, (chunk + 1) * per);
    for (size_t i = chunk * per; i < i1; ++i) {
      const uint32_t u = j < cols ? fi::biased(m[i * cols + j]) : 1u;
      fi::mac(acc, e + 8 * i, u);
    }
#pragma unroll
    for (int k = 0; k < fi::kWide; ++k) partial[t * fi::kWide + k] = acc[k];
  }
}

__global__ void fold_finish_kernel(const uint32_t* partial, uint32_t* out, size_t cols,
                                   size_t chunks) {
  const size_t width = cols + 1;
  for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < cols;
       j += (size_t)gridDim.x * blockDim.x) {
    uint32_t acc[fi::kWide], s[fi::kWide];
#pragma unroll
    for (int k = 0; k < fi::kWide; ++k) acc[k] = s[k] = 0;
    for (size_t c = 0; c < chunks; ++c) {
      fi::add_wide(acc, partial + (c * width + j) * fi::kWide);
      fi::add_wide(s, partial + (c * width + cols) * fi::kWide);
    }
    fi::finish(acc, fi::offset(s)).store(out + 8 * j);
  }
}

ffi::Error FoldRowsI32(cudaStream_t st, ffi::ScratchAllocator scratch, ffi::Buffer<ffi::U32> m,
                       ffi::Buffer<ffi::U32> e, ffi::ResultBuffer<ffi::U32> o) {
  const size_t cols = o->element_count() / 8;
  const size_t rows = e.element_count() / 8;
  if (!fi::shapes_ok(m.element_count(), e.element_count(), o->element_count()))
    return ffi::Error::InvalidArgument(fi::kShapeError);
  // About 2^16 threads in pass 1, each over at least 16 rows.
  size_t chunks = std::max<size_t>(1, (size_t{1} << 16) / (cols + 1));
  chunks = std::min(chunks, std::max<size_t>(1, rows / 16));
  const size_t per = (rows + chunks - 1) / chunks;
  chunks = (rows + per - 1) / per;
  const size_t words = chunks * (cols + 1) * fi::kWide;
  std::optional<void*> buf = zk::cuda::scratch_alloc(scratch, words * sizeof(uint32_t));
  if (!buf.has_value())
    return ffi::Error(ffi::ErrorCode::kResourceExhausted,
                      "fr_fold_rows_i32: could not allocate scratch memory");
  uint32_t* partial = static_cast<uint32_t*>(*buf);
  fold_partial_kernel<<<zk::cuda::grid_for(chunks * (cols + 1), kBlock), kBlock, 0, st>>>(
      m.typed_data(), e.typed_data(), partial, rows, cols, per, chunks);
  ffi::Error err = zk::cuda::last_error("fr_fold_rows_i32 pass 1");
  if (err.failure()) return err;
  fold_finish_kernel<<<zk::cuda::grid_for(cols, kBlock), kBlock, 0, st>>>(partial,
                                                                          o->typed_data(), cols,
                                                                          chunks);
  return zk::cuda::last_error("fr_fold_rows_i32 pass 2");
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_fr_fold_rows_i32_cuda, FoldRowsI32,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Ctx<ffi::ScratchAllocator>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>());
