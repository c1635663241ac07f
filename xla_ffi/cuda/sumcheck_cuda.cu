// Sumcheck round and MLE fold handlers for CUDA (same targets and shapes as sumcheck_cpu.cc).
//
// A round is a grid-stride pass in which every thread accumulates its pairs' round-polynomial
// values in registers, reduced per warp with shuffles and per block through shared memory. The
// grid is at most the blocks that fit on the device at once, so every block stays resident and
// the partials stay few; a one-block launch that sums the partials follows. A pass small enough
// for one block (the late rounds) writes the round polynomial itself: one launch per round. The
// fused fold-round folds with the previous challenge and evaluates in the same pass, so each
// round reads the tables once and writes them halved.
//
// The LogUp-GKR passes (fr_logup_level, fr_logup_leaf_round) rebuild a lookup's witness level
// from its int32 leaves per entry (zkllm/logup.h): a lazy round reads 8–12 bytes a leaf instead
// of the level's field tables, and no level larger than the kept ones is ever stored.
//
// The partials live in a last result the caller sizes (sumcheck.scratch_words): nothing is
// allocated at run time, so the passes can be recorded into command buffers; a buffer smaller
// than the resident grid's partials only caps the grid.
//
// The default instance (one term of all tables, D = K) has its own pass (accumulate_product):
// exactly D + 1 accumulators, compile-time points, independent products; fewer registers and
// more resident warps than the term loop, which keeps kEvals accumulators for any degree.
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <string>

#include "cuda/map_cuda.cuh"
#include "xla/ffi/api/ffi.h"
#include "zkllm/logup.h"
#include "zkllm/sumcheck.h"
#include "zkllm/sumcheck_args.h"

namespace ffi = xla::ffi;
using zk::Fr;
namespace sc = zk::sumcheck;
using zk::sumcheck_args::decode;
using zk::sumcheck_args::logup_level;
using zk::sumcheck_args::logup_round;
using zk::sumcheck_args::table_dims;

namespace {

constexpr unsigned kBlock = 256;

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

constexpr int kEvals = sc::kMaxDegree + 1;  // the generic pass's accumulators

// How a pass evaluates one pair: the default instance (a product of all K tables, D = K) with
// exactly K + 1 accumulators and compile-time points, or any instance through the term loop
// with kEvals accumulators and the degree at run time.
template <int K, bool Product>
struct Eval;
template <int K>
struct Eval<K, true> {
  static constexpr int kAcc = K + 1;
  __device__ __forceinline__ static void pair(const Fr* f0, const Fr* f1, const sc::Terms&,
                                              const Fr*, uint32_t, Fr* acc) {
    sc::accumulate_product<K>(f0, f1, acc);
  }
};
template <int K>
struct Eval<K, false> {
  static constexpr int kAcc = kEvals;
  __device__ __forceinline__ static void pair(const Fr* f0, const Fr* f1, const sc::Terms& tm,
                                              const Fr* c, uint32_t unit, Fr* acc) {
    sc::accumulate_pair<K>(f0, f1, tm, c, unit, acc);
  }
};

// Sums acc[0..count) over the block; thread 0 writes the sums, times `scale`, to dst[0..count).
template <int N>
__device__ void block_reduce(Fr* acc, int count, const Fr& scale, uint32_t* dst) {
  __shared__ uint32_t warp_sums[kBlock / 32][N][8];
  const unsigned lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int j = 0; j < N; ++j) {
    if (j >= count) break;
    for (int d = 16; d > 0; d >>= 1) acc[j] += shfl_down(acc[j], d);
    if (lane == 0) acc[j].store(warp_sums[warp][j]);
  }
  __syncthreads();
  if (warp == 0) {
    const unsigned warps = (blockDim.x + 31) / 32;
#pragma unroll
    for (int j = 0; j < N; ++j) {
      if (j >= count) break;
      Fr x = lane < warps ? Fr::load(warp_sums[lane][j]) : Fr::zero();
      for (int d = 16; d > 0; d >>= 1) x += shfl_down(x, d);
      if (lane == 0) (x * scale).store(dst + 8 * j);
    }
  }
}

// The term coefficients, copied once per block into shared memory.
__device__ void load_coeffs(const uint32_t* coeffs, int T, Fr* sh) {
  for (int j = threadIdx.x; j < T; j += blockDim.x) sh[j] = ld(coeffs + 8 * j);
  __syncthreads();
}

// Where a pass's block sums go: a one-block launch writes the round polynomial itself (with a
// lone term's coefficient applied, see accumulate_pair), a larger one a partial per block for
// sum_partials_kernel.
template <int N>
__device__ void finish(Fr* acc, int count, const Fr* c, int T, uint32_t* partials,
                       uint32_t* out) {
  if (gridDim.x == 1)
    block_reduce<N>(acc, count, T == 1 ? c[0] : Fr::one(), out);
  else
    block_reduce<N>(acc, count, Fr::one(), partials + (size_t)blockIdx.x * 8 * N);
}

// A pass over the pairs (2i, 2i+1) of unfolded tables (the first round).
template <int K, bool Product>
__device__ __forceinline__ void round_pass(const uint32_t* t, size_t n, const sc::Terms& tm,
                                           const uint32_t* coeffs, uint32_t* partials,
                                           uint32_t* out) {
  using E = Eval<K, Product>;
  __shared__ Fr c[sc::kMaxTerms];
  load_coeffs(coeffs, tm.num_terms, c);
  const uint32_t unit = sc::unit_mask(tm, c);
  Fr acc[E::kAcc];
#pragma unroll
  for (int j = 0; j < E::kAcc; ++j) acc[j] = Fr::zero();
  Fr f0[K], f1[K];
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n / 2;
       i += (size_t)gridDim.x * blockDim.x) {
#pragma unroll
    for (int k = 0; k < K; ++k) {
      f0[k] = ld(t + 8 * (k * n + 2 * i));
      f1[k] = ld(t + 8 * (k * n + 2 * i + 1));
    }
    E::pair(f0, f1, tm, c, unit, acc);
  }
  finish<E::kAcc>(acc, tm.degree + 1, c, tm.num_terms, partials, out);
}

// Folds entries (4i, 4i+1) and (4i+2, 4i+3) of every table with r into folded entries 2i and
// 2i+1, and evaluates the next round on that pair while it is in registers.
template <int K, bool Product>
__device__ __forceinline__ void fold_round_pass(const uint32_t* t, size_t n, const uint32_t* rp,
                                                const sc::Terms& tm, const uint32_t* coeffs,
                                                uint32_t* folded, uint32_t* partials,
                                                uint32_t* out) {
  using E = Eval<K, Product>;
  __shared__ Fr c[sc::kMaxTerms];
  load_coeffs(coeffs, tm.num_terms, c);
  const uint32_t unit = sc::unit_mask(tm, c);
  const Fr r = Fr::load(rp);
  const size_t h = n / 2;
  Fr acc[E::kAcc];
#pragma unroll
  for (int j = 0; j < E::kAcc; ++j) acc[j] = Fr::zero();
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
    E::pair(f0, f1, tm, c, unit, acc);
  }
  finish<E::kAcc>(acc, tm.degree + 1, c, tm.num_terms, partials, out);
}

// The kernels. The product passes of one or two tables fit in 128 registers without spilling
// (ptxas -v), so they are bounded to two resident blocks of 256 threads per SM: twice the warps
// to hide memory latency behind (unbounded, the fold-round took 134 registers, one block). The
// others are left unbounded: a bound made ptxas cap some term-loop passes at 128 registers and
// spill.
template <int K, bool Product>
constexpr bool kTwoBlocks = Product && K <= 2;

template <int K, bool Product>
__global__ void round_kernel(const uint32_t* t, size_t n, const sc::Terms tm,
                             const uint32_t* coeffs, uint32_t* partials, uint32_t* out) {
  round_pass<K, Product>(t, n, tm, coeffs, partials, out);
}
template <int K, bool Product>
__global__ void __launch_bounds__(kBlock, 2)
    round_kernel_2(const uint32_t* t, size_t n, const sc::Terms tm, const uint32_t* coeffs,
                   uint32_t* partials, uint32_t* out) {
  round_pass<K, Product>(t, n, tm, coeffs, partials, out);
}
template <int K, bool Product>
__global__ void fold_round_kernel(const uint32_t* t, size_t n, const uint32_t* rp,
                                  const sc::Terms tm, const uint32_t* coeffs, uint32_t* folded,
                                  uint32_t* partials, uint32_t* out) {
  fold_round_pass<K, Product>(t, n, rp, tm, coeffs, folded, partials, out);
}
template <int K, bool Product>
__global__ void __launch_bounds__(kBlock, 2)
    fold_round_kernel_2(const uint32_t* t, size_t n, const uint32_t* rp, const sc::Terms tm,
                        const uint32_t* coeffs, uint32_t* folded, uint32_t* partials,
                        uint32_t* out) {
  fold_round_pass<K, Product>(t, n, rp, tm, coeffs, folded, partials, out);
}

// Sums the blocks' partials (N per block); a lone term's coefficient is applied here.
template <int N>
__global__ void sum_partials_kernel(const uint32_t* partials, unsigned blocks, int D, int T,
                                    const uint32_t* coeffs, uint32_t* out) {
  Fr acc[N];
#pragma unroll
  for (int j = 0; j < N; ++j) acc[j] = Fr::zero();
  for (unsigned b = threadIdx.x; b < blocks; b += blockDim.x) {
#pragma unroll
    for (int j = 0; j < N; ++j)
      if (j <= D) acc[j] += Fr::load(partials + 8 * ((size_t)b * N + j));
  }
  block_reduce<N>(acc, D + 1, T == 1 ? Fr::load(coeffs) : Fr::one(), out);
}

__global__ void fold_kernel(const uint32_t* t, size_t half, const uint32_t* rp, uint32_t* o) {
  const Fr r = Fr::load(rp);
  for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < half;
       j += (size_t)gridDim.x * blockDim.x)
    st(o + 8 * j, sc::fold_pair(ld(t + 16 * j), ld(t + 16 * j + 8), r));
}

// Blocks of `kernel` that fit on the device at once. The per-SM count is cached by the caller
// (one cache per kernel); the SM count is read per call, which is cheap and keeps a process
// with unlike GPUs right.
template <class Kernel>
unsigned resident_blocks(Kernel kernel, std::atomic<int>& per_sm) {
  int b = per_sm.load(std::memory_order_relaxed);
  if (b == 0) {
    if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&b, kernel, kBlock, 0) != cudaSuccess ||
        b < 1)
      b = 1;
    per_sm.store(b, std::memory_order_relaxed);
  }
  int dev = 0, sms = 0;
  if (cudaGetDevice(&dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess ||
      sms < 1)
    sms = 1;
  return (unsigned)(b * sms);
}

// One item per thread up to a full grid of resident blocks, then a grid-stride loop: every block
// stays resident for the whole pass (no tail wave) and the partials stay few. A pass that fits in
// one block uses only as many threads as it has items (rounded up to a warp) and finishes the
// round polynomial itself.
template <class Kernel>
void launch_shape(Kernel kernel, std::atomic<int>& per_sm, size_t items, unsigned& blocks,
                  unsigned& threads) {
  if (items <= kBlock) {
    blocks = 1;
    threads = (unsigned)((items + 31) / 32 * 32);
    return;
  }
  threads = kBlock;
  const size_t need = (items + kBlock - 1) / kBlock;
  const unsigned cap = resident_blocks(kernel, per_sm);
  blocks = (unsigned)(need < cap ? need : cap);
}

// The partials of a multi-block pass, N field elements a block (none for one block); the grid
// is capped at the blocks the caller's scratch holds.
struct Scratch {
  uint32_t* data;
  size_t words;
};
template <int N>
uint32_t* take_partials(const Scratch& scratch, unsigned& blocks) {
  const size_t fit = scratch.words / (8 * N);
  if (blocks > fit) blocks = (unsigned)(fit > 0 ? fit : 1);
  return blocks > 1 ? scratch.data : nullptr;
}

// The kernel that runs each pass (only the chosen one is instantiated).
template <int K, bool Product>
auto fold_round_entry() {
  if constexpr (kTwoBlocks<K, Product>)
    return &fold_round_kernel_2<K, Product>;
  else
    return &fold_round_kernel<K, Product>;
}
template <int K, bool Product>
auto round_entry() {
  if constexpr (kTwoBlocks<K, Product>)
    return &round_kernel_2<K, Product>;
  else
    return &round_kernel<K, Product>;
}

// Resident blocks per SM of each pass, filled on first use (see resident_blocks).
template <int K, bool Product>
std::atomic<int> per_sm_fold{0};
template <int K, bool Product>
std::atomic<int> per_sm_round{0};

template <int K, bool Product>
ffi::Error launch(cudaStream_t s, const Scratch& scratch, const uint32_t* t, size_t n,
                  const uint32_t* r, const sc::Terms& tm, const uint32_t* coeffs,
                  uint32_t* folded, uint32_t* out) {
  constexpr int N = Eval<K, Product>::kAcc;
  const size_t items = r ? n / 4 : n / 2;
  unsigned blocks = 0, threads = 0;
  if (r)
    launch_shape(fold_round_entry<K, Product>(), per_sm_fold<K, Product>, items, blocks,
                 threads);
  else
    launch_shape(round_entry<K, Product>(), per_sm_round<K, Product>, items, blocks, threads);
  uint32_t* partials = take_partials<N>(scratch, blocks);
  if constexpr (kTwoBlocks<K, Product>) {
    if (r)
      fold_round_kernel_2<K, Product>
          <<<blocks, threads, 0, s>>>(t, n, r, tm, coeffs, folded, partials, out);
    else
      round_kernel_2<K, Product><<<blocks, threads, 0, s>>>(t, n, tm, coeffs, partials, out);
  } else {
    if (r)
      fold_round_kernel<K, Product>
          <<<blocks, threads, 0, s>>>(t, n, r, tm, coeffs, folded, partials, out);
    else
      round_kernel<K, Product><<<blocks, threads, 0, s>>>(t, n, tm, coeffs, partials, out);
  }
  if (blocks > 1)
    sum_partials_kernel<N><<<1, kBlock, 0, s>>>(partials, blocks, tm.degree, tm.num_terms,
                                                coeffs, out);
  return zk::cuda::last_error("sumcheck round kernel");
}

template <int K>
ffi::Error launch_k(cudaStream_t s, const Scratch& scratch, const uint32_t* t, size_t n,
                    const uint32_t* r, const sc::Terms& tm, const uint32_t* coeffs,
                    uint32_t* folded, uint32_t* out) {
  if constexpr (K <= sc::kMaxTermDegree + 1) {
    if (sc::is_plain_product(tm, K))
      return launch<K, true>(s, scratch, t, n, r, tm, coeffs, folded, out);
  }
  return launch<K, false>(s, scratch, t, n, r, tm, coeffs, folded, out);
}

ffi::Error dispatch(cudaStream_t s, const Scratch& scratch, size_t K, const uint32_t* t,
                    size_t n, const uint32_t* r, const sc::Terms& tm, const uint32_t* coeffs,
                    uint32_t* folded, uint32_t* out) {
  static_assert(sc::kMaxTables == 8, "dispatch covers K = 1..8");
  switch (K) {
    case 1: return launch_k<1>(s, scratch, t, n, r, tm, coeffs, folded, out);
    case 2: return launch_k<2>(s, scratch, t, n, r, tm, coeffs, folded, out);
    case 3: return launch_k<3>(s, scratch, t, n, r, tm, coeffs, folded, out);
    case 4: return launch_k<4>(s, scratch, t, n, r, tm, coeffs, folded, out);
    case 5: return launch_k<5>(s, scratch, t, n, r, tm, coeffs, folded, out);
    case 6: return launch_k<6>(s, scratch, t, n, r, tm, coeffs, folded, out);
    case 7: return launch_k<7>(s, scratch, t, n, r, tm, coeffs, folded, out);
    default: return launch_k<8>(s, scratch, t, n, r, tm, coeffs, folded, out);
  }
}

ffi::Error Round(cudaStream_t s, ffi::Buffer<ffi::U32> tables, ffi::Buffer<ffi::U32> coeffs,
                 ffi::ResultBuffer<ffi::U32> evals, ffi::ResultBuffer<ffi::U32> scratch,
                 ffi::Span<const int64_t> terms, int64_t num_tables, int64_t has_eq) {
  sc::Terms tm;
  if (auto err = decode(terms, num_tables, has_eq, coeffs, evals->element_count() / 8, tm);
      err.failure())
    return err;
  size_t n = 0;
  if (auto err = table_dims(tables.element_count(), num_tables, 2, n); err.failure()) return err;
  return dispatch(s, {scratch->typed_data(), scratch->element_count()}, num_tables,
                  tables.typed_data(), n, nullptr, tm,
                  coeffs.typed_data(), nullptr, evals->typed_data());
}

ffi::Error FoldRound(cudaStream_t s, ffi::Buffer<ffi::U32> tables, ffi::Buffer<ffi::U32> r,
                     ffi::Buffer<ffi::U32> coeffs, ffi::ResultBuffer<ffi::U32> folded,
                     ffi::ResultBuffer<ffi::U32> evals, ffi::ResultBuffer<ffi::U32> scratch,
                     ffi::Span<const int64_t> terms, int64_t num_tables, int64_t has_eq) {
  sc::Terms tm;
  if (auto err = decode(terms, num_tables, has_eq, coeffs, evals->element_count() / 8, tm);
      err.failure())
    return err;
  size_t n = 0;
  if (auto err = table_dims(tables.element_count(), num_tables, 4, n); err.failure()) return err;
  if (r.element_count() != 8 || folded->element_count() != tables.element_count() / 2)
    return ffi::Error::InvalidArgument("sumcheck fold round: bad challenge or output shape");
  return dispatch(s, {scratch->typed_data(), scratch->element_count()}, num_tables,
                  tables.typed_data(), n, r.typed_data(), tm,
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

namespace lg = zk::logup;

__global__ void logup_level_kernel(lg::Leaves w, const uint32_t* ab, size_t len, int depth,
                                   uint32_t* o) {
  lg::load_challenges(w, ab);
  for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < len;
       j += (size_t)gridDim.x * blockDim.x) {
    const lg::Frac f = lg::level_entry(w, j, len, depth);
    st(o + 8 * j, f.p);
    st(o + 8 * (len + j), f.q);
  }
}

template <int J>
__global__ void logup_fold_kernel(lg::Step s, const uint32_t* ab, const uint32_t* rp,
                                  size_t items, uint32_t* o) {
  lg::load_challenges(s.w, ab);
  Fr r[J > 0 ? J : 1];
#pragma unroll
  for (int j = 0; j < J; ++j) r[j] = ld(rp + 8 * j);
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < items;
       i += (size_t)gridDim.x * blockDim.x) {
    Fr f[lg::kTables];
    lg::folded<J>(s, i, r, f);
#pragma unroll
    for (int t = 0; t < lg::kTables; ++t) st(o + 8 * (t * items + i), f[t]);
  }
}

template <int J>
__global__ void logup_round_kernel(lg::Step s, const uint32_t* ab, const uint32_t* rp,
                                   const sc::Terms tm, const uint32_t* coeffs, size_t pairs,
                                   uint32_t* partials, uint32_t* out) {
  __shared__ Fr c[sc::kMaxTerms];
  load_coeffs(coeffs, tm.num_terms, c);
  const uint32_t unit = sc::unit_mask(tm, c);
  lg::load_challenges(s.w, ab);
  Fr r[J > 0 ? J : 1];
#pragma unroll
  for (int j = 0; j < J; ++j) r[j] = ld(rp + 8 * j);
  Fr acc[kEvals];
#pragma unroll
  for (int j = 0; j < kEvals; ++j) acc[j] = Fr::zero();
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < pairs;
       i += (size_t)gridDim.x * blockDim.x)
    lg::accumulate<J>(s, i, r, tm, c, unit, acc);
  finish<kEvals>(acc, tm.degree + 1, c, tm.num_terms, partials, out);
}

template <int J>
std::atomic<int> per_sm_logup{0};

template <int J>
ffi::Error logup_launch(cudaStream_t st_, const Scratch& scratch, const lg::Step& s,
                        const uint32_t* ab, const uint32_t* r, int64_t materialize,
                        const sc::Terms& tm, const uint32_t* coeffs, uint32_t* out) {
  const size_t items = s.half >> J;
  if (materialize) {
    logup_fold_kernel<J><<<zk::cuda::grid_for(items, kBlock), kBlock, 0, st_>>>(s, ab, r, items,
                                                                              out);
    return zk::cuda::last_error("logup fold kernel");
  }
  unsigned blocks = 0, threads = 0;
  launch_shape(&logup_round_kernel<J>, per_sm_logup<J>, items / 2, blocks, threads);
  uint32_t* partials = take_partials<kEvals>(scratch, blocks);
  logup_round_kernel<J><<<blocks, threads, 0, st_>>>(s, ab, r, tm, coeffs, items / 2, partials,
                                                     out);
  if (blocks > 1)
    sum_partials_kernel<kEvals><<<1, kBlock, 0, st_>>>(partials, blocks, tm.degree,
                                                       tm.num_terms, coeffs, out);
  return zk::cuda::last_error("logup round kernel");
}

ffi::Error LogupLevel(cudaStream_t st_, ffi::Buffer<ffi::U32> x, ffi::Buffer<ffi::U32> y,
                      ffi::Buffer<ffi::U32> ones, ffi::Buffer<ffi::U32> ab,
                      ffi::ResultBuffer<ffi::U32> out, int64_t depth, int64_t width) {
  lg::Leaves w;
  size_t len = 0;
  if (auto err = logup_level(x, y, ones, ab, out->element_count(), depth, width, w, len);
      err.failure())
    return err;
  logup_level_kernel<<<zk::cuda::grid_for(len, kBlock), kBlock, 0, st_>>>(
      w, ab.typed_data(), len, (int)depth, out->typed_data());
  return zk::cuda::last_error("logup level kernel");
}

ffi::Error LogupLeafRound(cudaStream_t st_, ffi::Buffer<ffi::U32> x, ffi::Buffer<ffi::U32> y,
                          ffi::Buffer<ffi::U32> ones, ffi::Buffer<ffi::U32> ab,
                          ffi::Buffer<ffi::U32> eq_low, ffi::Buffer<ffi::U32> eq_high,
                          ffi::Buffer<ffi::U32> r, ffi::Buffer<ffi::U32> coeffs,
                          ffi::ResultBuffer<ffi::U32> out, ffi::ResultBuffer<ffi::U32> scratch_buf,
                          ffi::Span<const int64_t> terms, int64_t depth, int64_t width,
                          int64_t folds, int64_t materialize) {
  const Scratch scratch{scratch_buf->typed_data(), scratch_buf->element_count()};
  sc::Terms tm;
  lg::Step s;
  if (auto err = logup_round(terms, x, y, ones, ab, eq_low, eq_high, r, coeffs,
                             out->element_count(), depth, width, folds, materialize, tm, s);
      err.failure())
    return err;
  const uint32_t *pab = ab.typed_data(), *pr = r.typed_data(), *pc = coeffs.typed_data();
  uint32_t* o = out->typed_data();
  switch (folds) {
    case 0: return logup_launch<0>(st_, scratch, s, pab, pr, materialize, tm, pc, o);
    case 1: return logup_launch<1>(st_, scratch, s, pab, pr, materialize, tm, pc, o);
    default: return logup_launch<2>(st_, scratch, s, pab, pr, materialize, tm, pc, o);
  }
}

// A range lookup's multiplicities: each warp groups its lanes by bin (__match_any_sync) and one
// lane per group adds the group's count, so a value repeated across a warp (zeros, a saturated
// digit) costs one atomic, not 32.
__global__ void range_histogram_kernel(const int32_t* x, size_t n, uint32_t lo, uint32_t size,
                                       int32_t* out) {
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i0 = blockIdx.x * (size_t)blockDim.x; i0 < n; i0 += stride) {
    const size_t i = i0 + threadIdx.x;
    const uint32_t d = i < n ? (uint32_t)x[i] - lo : 0xFFFFFFFFu;
    const bool in = d < size;
    const unsigned active = __ballot_sync(0xFFFFFFFFu, in);
    if (!in) continue;
    const unsigned same = __match_any_sync(active, d);
    if ((threadIdx.x & 31) == (unsigned)(__ffs(same) - 1)) atomicAdd(out + d, __popc(same));
  }
}

ffi::Error RangeHistogram(cudaStream_t st_, ffi::Buffer<ffi::S32> x,
                          ffi::ResultBuffer<ffi::S32> out, int64_t lo, int64_t size) {
  if (size < 1 || (size_t)size != out->element_count())
    return ffi::Error::InvalidArgument("range_histogram: output size differs from the range");
  if (cudaMemsetAsync(out->typed_data(), 0, sizeof(int32_t) * (size_t)size, st_) != cudaSuccess)
    return zk::cuda::last_error("range_histogram memset");
  const size_t n = x.element_count();
  if (n == 0) return ffi::Error::Success();
  const size_t blocks = std::min<size_t>((n + kBlock - 1) / kBlock, size_t{1} << 16);
  range_histogram_kernel<<<(unsigned)blocks, kBlock, 0, st_>>>(x.typed_data(), n, (uint32_t)lo,
                                                               (uint32_t)size,
                                                               out->typed_data());
  return zk::cuda::last_error("range_histogram kernel");
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_range_histogram_cuda, RangeHistogram,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Arg<ffi::Buffer<ffi::S32>>()
                                  .Ret<ffi::Buffer<ffi::S32>>()
                                  .Attr<int64_t>("lo")
                                  .Attr<int64_t>("size"),
                              ZK_CMD_BUFFER);

XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_fr_sumcheck_round_cuda, Round,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>()
                                  .Attr<ffi::Span<const int64_t>>("terms")
                                  .Attr<int64_t>("num_tables")
                                  .Attr<int64_t>("has_eq"),
                              ZK_CMD_BUFFER);
XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_fr_sumcheck_fold_round_cuda, FoldRound,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>()
                                  .Attr<ffi::Span<const int64_t>>("terms")
                                  .Attr<int64_t>("num_tables")
                                  .Attr<int64_t>("has_eq"),
                              ZK_CMD_BUFFER);
XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_fr_mle_fold_cuda, Fold,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>(),
                              ZK_CMD_BUFFER);
XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_fr_logup_level_cuda, LogupLevel,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>()
                                  .Attr<int64_t>("depth")
                                  .Attr<int64_t>("width"),
                              ZK_CMD_BUFFER);
XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_fr_logup_leaf_round_cuda, LogupLeafRound,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>()
                                  .Attr<ffi::Span<const int64_t>>("terms")
                                  .Attr<int64_t>("depth")
                                  .Attr<int64_t>("width")
                                  .Attr<int64_t>("folds")
                                  .Attr<int64_t>("materialize"),
                              ZK_CMD_BUFFER);
