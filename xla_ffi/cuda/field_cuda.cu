// Fr handlers for CUDA.
//
// Reductions ([m, n, 8] -> [m, 8]) are block trees: each thread sums a strided slice of a row,
// warps reduce with shuffles, warp sums meet in shared memory. A long row is split over several
// blocks whose partial sums a second launch adds up; short rows take one thread each. Field
// addition is exact, so every order gives the CPU's result bit for bit. The partials live in a
// second result the caller sizes (field.reduce_scratch_words): no allocation at run time, so the
// handlers can be recorded into command buffers; a smaller buffer only means fewer parts.
#include <optional>
#include <string>

#include "cuda/map_cuda.cuh"
#include "zkllm/ops.h"

ZK_CUDA_MAP2(zk_fr_add_cuda, zk::ops::FrAdd);
ZK_CUDA_MAP2(zk_fr_sub_cuda, zk::ops::FrSub);
ZK_CUDA_MAP2(zk_fr_mul_cuda, zk::ops::FrMul);
ZK_CUDA_MAP2(zk_fr_pow_cuda, zk::ops::FrPow);
ZK_CUDA_MAP1(zk_fr_neg_cuda, zk::ops::FrNeg);
ZK_CUDA_MAP1(zk_fr_to_mont_cuda, zk::ops::FrToMont);
ZK_CUDA_MAP1(zk_fr_from_mont_cuda, zk::ops::FrFromMont);
ZK_CUDA_MAP1(zk_fr_from_wide_cuda, zk::ops::FrFromWide);
ZK_CUDA_MAP1(zk_fr_from_i32_cuda, zk::ops::FrFromI32);

namespace {

namespace ffi = xla::ffi;
using zk::Fr;

constexpr unsigned kBlock = 256;
constexpr size_t kMaxGrid = size_t{1} << 20;

// --- batch inversion -------------------------------------------------------------------------

// Montgomery's trick over the elements i = t, t + threads, ... (coalesced across a warp): the
// output holds the prefix products until the backward pass replaces them. Zeros map to zero.
__global__ void batch_inv_kernel(const uint32_t* a, uint32_t* o, size_t n, size_t threads) {
  for (size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x; t < threads;
       t += (size_t)gridDim.x * blockDim.x) {
    const size_t cnt = (n - 1 - t) / threads + 1;
    Fr acc = Fr::one();
    for (size_t k = 0; k < cnt; ++k) {
      size_t i = t + k * threads;
      Fr x = Fr::load(a + 8 * i);
      if (!x.is_zero()) {
        acc.store(o + 8 * i);
        acc = acc * x;
      }
    }
    Fr inv = acc.inv();
    for (size_t k = cnt; k-- > 0;) {
      size_t i = t + k * threads;
      Fr x = Fr::load(a + 8 * i);
      if (x.is_zero()) {
        Fr::zero().store(o + 8 * i);
      } else {
        (inv * Fr::load(o + 8 * i)).store(o + 8 * i);
        inv = inv * x;
      }
    }
  }
}

ffi::Error BatchInv(cudaStream_t s, ffi::Buffer<ffi::U32> a, ffi::ResultBuffer<ffi::U32> o) {
  if (a.element_count() != o->element_count() || a.element_count() % 8)
    return ffi::Error::InvalidArgument("fr_batch_inv: operand size mismatch");
  const size_t n = a.element_count() / 8;
  if (n == 0) return ffi::Error::Success();
  // One Fermat inversion (~380 products) per thread, amortised over ~64 elements.
  size_t threads = n / 64;
  if (threads < (size_t{1} << 14)) threads = size_t{1} << 14;
  if (threads > (size_t{1} << 17)) threads = size_t{1} << 17;
  if (threads > n) threads = n;
  batch_inv_kernel<<<zk::cuda::grid_for(threads, kBlock), kBlock, 0, s>>>(
      a.typed_data(), o->typed_data(), n, threads);
  return zk::cuda::last_error("fr_batch_inv kernel");
}

// --- sums and inner products -----------------------------------------------------------------

__device__ __forceinline__ Fr shfl_down(const Fr& x, int d) {
  Fr r;
#pragma unroll
  for (int i = 0; i < 8; ++i) r.v[i] = __shfl_down_sync(0xffffffffu, x.v[i], d);
  return r;
}

// Sum over the block (blockDim.x a multiple of 32, every thread present); valid in thread 0.
__device__ Fr block_sum(Fr x) {
  __shared__ uint32_t warp_sums[kBlock / 32][8];
  const unsigned lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int d = 16; d > 0; d >>= 1) x += shfl_down(x, d);
  if (lane == 0) x.store(warp_sums[warp]);
  __syncthreads();
  Fr r = Fr::zero();
  if (warp == 0) {
    r = lane < blockDim.x / 32 ? Fr::load(warp_sums[lane]) : Fr::zero();
    for (int d = 16; d > 0; d >>= 1) r += shfl_down(r, d);
  }
  __syncthreads();  // warp_sums is reused by the next block-iteration
  return r;
}

// Block (row, part) sums the row's elements part·blockDim + tid + k·parts·blockDim into
// dst[row·parts + part]. With kMul the elements are a_i·b_i.
template <bool kMul>
__global__ void row_parts_kernel(const uint32_t* a, const uint32_t* b, uint32_t* dst,
                                 size_t rows, size_t n, size_t parts) {
  for (size_t blk = blockIdx.x; blk < rows * parts; blk += gridDim.x) {
    const size_t row = blk / parts, part = blk - row * parts;
    const uint32_t* ra = a + 8 * row * n;
    const uint32_t* rb = kMul ? b + 8 * row * n : nullptr;
    Fr acc = Fr::zero();
    for (size_t i = part * blockDim.x + threadIdx.x; i < n; i += parts * blockDim.x) {
      if (kMul) {
        acc += Fr::load(ra + 8 * i) * Fr::load(rb + 8 * i);
      } else {
        acc += Fr::load(ra + 8 * i);
      }
    }
    acc = block_sum(acc);
    if (threadIdx.x == 0) acc.store(dst + 8 * blk);
  }
}

// One thread per row, for short rows.
template <bool kMul>
__global__ void row_serial_kernel(const uint32_t* a, const uint32_t* b, uint32_t* dst,
                                  size_t rows, size_t n) {
  for (size_t row = blockIdx.x * (size_t)blockDim.x + threadIdx.x; row < rows;
       row += (size_t)gridDim.x * blockDim.x) {
    Fr acc = Fr::zero();
    for (size_t i = row * n; i < (row + 1) * n; ++i) {
      if (kMul) {
        acc += Fr::load(a + 8 * i) * Fr::load(b + 8 * i);
      } else {
        acc += Fr::load(a + 8 * i);
      }
    }
    acc.store(dst + 8 * row);
  }
}

template <bool kMul>
ffi::Error reduce_rows(cudaStream_t s, uint32_t* scratch, size_t scratch_words, const uint32_t* a,
                       const uint32_t* b, size_t count, uint32_t* out, size_t ocount,
                       const char* what) {
  const size_t rows = ocount / 8;
  if (rows == 0 || ocount % 8 || count % (8 * rows))
    return ffi::Error::InvalidArgument(std::string(what) + ": bad shapes");
  const size_t n = count / (8 * rows);
  if (n < 64) {
    row_serial_kernel<kMul><<<zk::cuda::grid_for(rows, kBlock), kBlock, 0, s>>>(a, b, out, rows,
                                                                               n);
    return zk::cuda::last_error(what);
  }
  // About 1024 blocks in flight, each thread summing at least ~4 elements, as many parts as the
  // scratch holds (the same formula as field.reduce_scratch_words).
  size_t parts = (1024 + rows - 1) / rows;
  size_t most = (n + 4 * kBlock - 1) / (4 * kBlock);
  if (parts > most) parts = most;
  if (parts > scratch_words / (8 * rows)) parts = scratch_words / (8 * rows);
  if (parts < 1) parts = 1;
  const unsigned grid = (unsigned)(rows * parts < kMaxGrid ? rows * parts : kMaxGrid);
  if (parts == 1) {
    row_parts_kernel<kMul><<<grid, kBlock, 0, s>>>(a, b, out, rows, n, 1);
    return zk::cuda::last_error(what);
  }
  row_parts_kernel<kMul><<<grid, kBlock, 0, s>>>(a, b, scratch, rows, n, parts);
  ffi::Error err = zk::cuda::last_error(what);
  if (err.failure()) return err;
  const unsigned grid2 = (unsigned)(rows < kMaxGrid ? rows : kMaxGrid);
  row_parts_kernel<false><<<grid2, kBlock, 0, s>>>(scratch, nullptr, out, rows, parts, 1);
  return zk::cuda::last_error(what);
}

// a: [m, n, 8] -> [m, 8]
ffi::Error Sum(cudaStream_t s, ffi::Buffer<ffi::U32> a, ffi::ResultBuffer<ffi::U32> o,
               ffi::ResultBuffer<ffi::U32> scratch) {
  return reduce_rows<false>(s, scratch->typed_data(), scratch->element_count(), a.typed_data(),
                            nullptr, a.element_count(), o->typed_data(), o->element_count(),
                            "fr_sum");
}

ffi::Error InnerProduct(cudaStream_t s, ffi::Buffer<ffi::U32> a, ffi::Buffer<ffi::U32> b,
                        ffi::ResultBuffer<ffi::U32> o, ffi::ResultBuffer<ffi::U32> scratch) {
  if (a.element_count() != b.element_count())
    return ffi::Error::InvalidArgument("fr_inner_product: operand sizes differ");
  return reduce_rows<true>(s, scratch->typed_data(), scratch->element_count(), a.typed_data(),
                           b.typed_data(), a.element_count(), o->typed_data(),
                           o->element_count(), "fr_inner_product");
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_fr_batch_inv_cuda, BatchInv,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>(),
                              ZK_CMD_BUFFER);
XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_fr_sum_cuda, Sum,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>(),
                              ZK_CMD_BUFFER);
XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_fr_inner_product_cuda, InnerProduct,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>(),
                              ZK_CMD_BUFFER);
