// Sumcheck round and MLE fold handlers for CUDA (same targets and shapes as sumcheck_cpu.cc).
//
// A round is two launches on XLA's stream: a grid-stride pass in which every thread accumulates
// its pairs' round-polynomial values in registers, reduced per warp with shuffles and per block
// through shared memory into one partial per block (scratch memory), then a one-block launch
// that sums the partials. The fused fold-round folds with the previous challenge and evaluates
// in the same pass, so each round reads the tables once and writes them halved.
#include <cuda_runtime.h>

#include <string>

#include "cuda/map_cuda.cuh"
#include "xla/ffi/api/ffi.h"
#include "zkllm/sumcheck.h"

namespace ffi = xla::ffi;
using zk::Fr;
namespace sc = zk::sumcheck;

namespace {

constexpr unsigned kBlock = 256;
constexpr unsigned kMaxBlocks = 1024;

__device__ __forceinline__ Fr ld(const uint32_t* p) {
  const uint4* q = reinterpret_cast<const uint4*>(p);
  uint4 a = __ldg(q), b = __ldg(q + 1);
  Fr r;
  r.v[0] = a.x; r.v[1] = a.y; r.v[2] = a.z; r.v[3] = a.w;
  r.v[4] = b.x; r.v[5] = b.y; r.v[6] = b.z; r.v[7] = b.w;
  return r;
}
__device__ __forceinline__ void st(uint32_t* p, const Fr& x) {
  uint4* q = reinterpret_cast<uint4*>(p);
  q[0] = make_uint4(x.v[0], x.v[1], x.v[2], x.v[3]);
  q[1] = make_uint4(x.v[4], x.v[5], x.v[6], x.v[7]);
}
__device__ __forceinline__ Fr shfl_down(const Fr& x, int d) {
  Fr r;
#pragma unroll
  for (int i = 0; i < 8; ++i) r.v[i] = __shfl_down_sync(0xffffffffu, x.v[i], d);
  return r;
}

constexpr int kEvals = sc::kMaxDegree + 1;  // stride of one block's partial sums

// Sums acc[0..D] over the block; thread 0 writes the result to dst[0..D].
__device__ void block_reduce(Fr* acc, int D, uint32_t* dst) {
  __shared__ uint32_t warp_sums[kBlock / 32][kEvals][8];
  const unsigned lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int j = 0; j < kEvals; ++j) {
    if (j > D) break;
    for (int d = 16; d > 0; d >>= 1) acc[j] += shfl_down(acc[j], d);
    if (lane == 0) acc[j].store(warp_sums[warp][j]);
  }
  __syncthreads();
  if (warp == 0) {
#pragma unroll
    for (int j = 0; j < kEvals; ++j) {
      if (j > D) break;
      Fr x = lane < blockDim.x / 32 ? Fr::load(warp_sums[lane][j]) : Fr::zero();
      for (int d = 16; d > 0; d >>= 1) x += shfl_down(x, d);
      if (lane == 0) x.store(dst + 8 * j);
    }
  }
}

// The term coefficients, copied once per block into shared memory.
__device__ void load_coeffs(const uint32_t* coeffs, int T, Fr* sh) {
  for (int j = threadIdx.x; j < T; j += blockDim.x) sh[j] = ld(coeffs + 8 * j);
  __syncthreads();
}

template <int K>
__global__ void round_kernel(const uint32_t* t, size_t n, const sc::Terms tm,
                             const uint32_t* coeffs, uint32_t* partials) {
  __shared__ Fr c[sc::kMaxTerms];
  load_coeffs(coeffs, tm.num_terms, c);
  const uint32_t unit = sc::unit_mask(tm, c);
  Fr acc[kEvals];
#pragma unroll
  for (int j = 0; j < kEvals; ++j) acc[j] = Fr::zero();
  Fr f0[K], f1[K];
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n / 2;
       i += (size_t)gridDim.x * blockDim.x) {
#pragma unroll
    for (int k = 0; k < K; ++k) {
      f0[k] = ld(t + 8 * (k * n + 2 * i));
      f1[k] = ld(t + 8 * (k * n + 2 * i + 1));
    }
    sc::accumulate_pair<K>(f0, f1, tm, c, unit, acc);
  }
  block_reduce(acc, tm.degree, partials + (size_t)blockIdx.x * 8 * kEvals);
}

template <int K>
__global__ void fold_round_kernel(const uint32_t* t, size_t n, const uint32_t* rp,
                                  const sc::Terms tm, const uint32_t* coeffs, uint32_t* folded,
                                  uint32_t* partials) {
  __shared__ Fr c[sc::kMaxTerms];
  load_coeffs(coeffs, tm.num_terms, c);
  const uint32_t unit = sc::unit_mask(tm, c);
  const Fr r = Fr::load(rp);
  const size_t h = n / 2;
  Fr acc[kEvals];
#pragma unroll
  for (int j = 0; j < kEvals; ++j) acc[j] = Fr::zero();
  Fr f0[K], f1[K];
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n / 4;
       i += (size_t)gridDim.x * blockDim.x) {
#pragma unroll
    for (int k = 0; k < K; ++k) {
      const uint32_t* src = t + 8 * (k * n + 4 * i);
      f0[k] = sc::fold_pair(ld(src), ld(src + 8), r);
      f1[k] = sc::fold_pair(ld(src + 16), ld(src + 24), r);
      st(folded + 8 * (k * h + 2 * i), f0[k]);
      st(folded + 8 * (k * h + 2 * i + 1), f1[k]);
    }
    sc::accumulate_pair<K>(f0, f1, tm, c, unit, acc);
  }
  block_reduce(acc, tm.degree, partials + (size_t)blockIdx.x * 8 * kEvals);
}

// Sums the blocks' partials; a lone term's coefficient is applied here (see accumulate_pair).
__global__ void sum_partials_kernel(const uint32_t* partials, unsigned blocks, int D, int T,
                                    const uint32_t* coeffs, uint32_t* out) {
  __shared__ uint32_t sums[kEvals][8];
  Fr acc[kEvals];
#pragma unroll
  for (int j = 0; j < kEvals; ++j) acc[j] = Fr::zero();
  for (unsigned b = threadIdx.x; b < blocks; b += blockDim.x) {
#pragma unroll
    for (int j = 0; j < kEvals; ++j)
      if (j <= D) acc[j] += Fr::load(partials + 8 * ((size_t)b * kEvals + j));
  }
  block_reduce(acc, D, &sums[0][0]);
  __syncthreads();
  if (threadIdx.x == 0) {
    const Fr c0 = T == 1 ? Fr::load(coeffs) : Fr::one();
    for (int j = 0; j <= D; ++j) (Fr::load(sums[j]) * c0).store(out + 8 * j);
  }
}

__global__ void fold_kernel(const uint32_t* t, size_t half, const uint32_t* rp, uint32_t* o) {
  const Fr r = Fr::load(rp);
  for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < half;
       j += (size_t)gridDim.x * blockDim.x)
    st(o + 8 * j, sc::fold_pair(ld(t + 16 * j), ld(t + 16 * j + 8), r));
}

ffi::Error table_dims(size_t words, size_t K, size_t min_n, size_t& n) {
  if (words % (8 * K)) return ffi::Error::InvalidArgument("sumcheck: tables are not [K, n, 8]");
  n = words / (8 * K);
  if (n < min_n || (n & (n - 1)))
    return ffi::Error::InvalidArgument("sumcheck: table length must be a power of two >= " +
                                       std::to_string(min_n) + ", got " + std::to_string(n));
  return ffi::Error::Success();
}

ffi::Error decode(ffi::Span<const int64_t> terms, int64_t num_tables, int64_t has_eq,
                  const ffi::Buffer<ffi::U32>& coeffs, size_t num_evals, sc::Terms& tm) {
  if (coeffs.element_count() % 8)
    return ffi::Error::InvalidArgument("sumcheck: coefficients are not [T, 8]");
  std::string err = sc::decode_terms(terms.begin(), terms.size(), num_tables, has_eq,
                                     coeffs.element_count() / 8, num_evals, tm);
  if (!err.empty()) return ffi::Error::InvalidArgument("sumcheck: " + err);
  return ffi::Error::Success();
}

unsigned blocks_for(size_t items) {
  size_t b = (items + kBlock - 1) / kBlock;
  return (unsigned)(b < 1 ? 1 : (b > kMaxBlocks ? kMaxBlocks : b));
}

template <int K>
ffi::Error launch(cudaStream_t s, ffi::ScratchAllocator& scratch, const uint32_t* t, size_t n,
                  const uint32_t* r, const sc::Terms& tm, const uint32_t* coeffs,
                  uint32_t* folded, uint32_t* out) {
  const size_t items = r ? n / 4 : n / 2;
  const unsigned blocks = blocks_for(items);
  auto mem = zk::cuda::scratch_alloc(scratch, sizeof(uint32_t) * 8 * kEvals * blocks);
  if (!mem.has_value()) return ffi::Error::Internal("sumcheck: no scratch memory");
  uint32_t* partials = static_cast<uint32_t*>(*mem);
  if (r)
    fold_round_kernel<K><<<blocks, kBlock, 0, s>>>(t, n, r, tm, coeffs, folded, partials);
  else
    round_kernel<K><<<blocks, kBlock, 0, s>>>(t, n, tm, coeffs, partials);
  sum_partials_kernel<<<1, kBlock, 0, s>>>(partials, blocks, tm.degree, tm.num_terms, coeffs,
                                           out);
  return zk::cuda::last_error("sumcheck round kernel");
}

ffi::Error dispatch(cudaStream_t s, ffi::ScratchAllocator& scratch, size_t K, const uint32_t* t,
                    size_t n, const uint32_t* r, const sc::Terms& tm, const uint32_t* coeffs,
                    uint32_t* folded, uint32_t* out) {
  static_assert(sc::kMaxTables == 8, "dispatch covers K = 1..8");
  switch (K) {
    case 1: return launch<1>(s, scratch, t, n, r, tm, coeffs, folded, out);
    case 2: return launch<2>(s, scratch, t, n, r, tm, coeffs, folded, out);
    case 3: return launch<3>(s, scratch, t, n, r, tm, coeffs, folded, out);
    case 4: return launch<4>(s, scratch, t, n, r, tm, coeffs, folded, out);
    case 5: return launch<5>(s, scratch, t, n, r, tm, coeffs, folded, out);
    case 6: return launch<6>(s, scratch, t, n, r, tm, coeffs, folded, out);
    case 7: return launch<7>(s, scratch, t, n, r, tm, coeffs, folded, out);
    default: return launch<8>(s, scratch, t, n, r, tm, coeffs, folded, out);
  }
}

ffi::Error Round(cudaStream_t s, ffi::ScratchAllocator scratch, ffi::Buffer<ffi::U32> tables,
                 ffi::Buffer<ffi::U32> coeffs, ffi::ResultBuffer<ffi::U32> evals,
                 ffi::Span<const int64_t> terms, int64_t num_tables, int64_t has_eq) {
  sc::Terms tm;
  if (auto err = decode(terms, num_tables, has_eq, coeffs, evals->element_count() / 8, tm);
      err.failure())
    return err;
  size_t n = 0;
  if (auto err = table_dims(tables.element_count(), num_tables, 2, n); err.failure()) return err;
  return dispatch(s, scratch, num_tables, tables.typed_data(), n, nullptr, tm,
                  coeffs.typed_data(), nullptr, evals->typed_data());
}

ffi::Error FoldRound(cudaStream_t s, ffi::ScratchAllocator scratch, ffi::Buffer<ffi::U32> tables,
                     ffi::Buffer<ffi::U32> r, ffi::Buffer<ffi::U32> coeffs,
                     ffi::ResultBuffer<ffi::U32> folded, ffi::ResultBuffer<ffi::U32> evals,
                     ffi::Span<const int64_t> terms, int64_t num_tables, int64_t has_eq) {
  sc::Terms tm;
  if (auto err = decode(terms, num_tables, has_eq, coeffs, evals->element_count() / 8, tm);
      err.failure())
    return err;
  size_t n = 0;
  if (auto err = table_dims(tables.element_count(), num_tables, 4, n); err.failure()) return err;
  if (r.element_count() != 8 || folded->element_count() != tables.element_count() / 2)
    return ffi::Error::InvalidArgument("sumcheck fold round: bad challenge or output shape");
  return dispatch(s, scratch, num_tables, tables.typed_data(), n, r.typed_data(), tm,
                  coeffs.typed_data(), folded->typed_data(), evals->typed_data());
}

ffi::Error Fold(cudaStream_t s, ffi::Buffer<ffi::U32> tables, ffi::Buffer<ffi::U32> r,
                ffi::ResultBuffer<ffi::U32> folded) {
  size_t half = folded->element_count() / 8;
  if (r.element_count() != 8 || tables.element_count() != 16 * half)
    return ffi::Error::InvalidArgument("mle fold: bad challenge or output shape");
  if (half == 0) return ffi::Error::Success();
  fold_kernel<<<zk::cuda::grid_for(half, kBlock), kBlock, 0, s>>>(tables.typed_data(), half,
                                                                   r.typed_data(),
                                                                   folded->typed_data());
  return zk::cuda::last_error("mle fold kernel");
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_fr_sumcheck_round_cuda, Round,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Ctx<ffi::ScratchAllocator>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>()
                                  .Attr<ffi::Span<const int64_t>>("terms")
                                  .Attr<int64_t>("num_tables")
                                  .Attr<int64_t>("has_eq"));
XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_fr_sumcheck_fold_round_cuda, FoldRound,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Ctx<ffi::ScratchAllocator>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>()
                                  .Attr<ffi::Span<const int64_t>>("terms")
                                  .Attr<int64_t>("num_tables")
                                  .Attr<int64_t>("has_eq"));
XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_fr_mle_fold_cuda, Fold,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>());
