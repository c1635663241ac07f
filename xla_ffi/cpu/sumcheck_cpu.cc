// Sumcheck round and MLE fold handlers for the CPU platform.
//
// fr_sumcheck_round       tables [K, n, 8], coeffs [T, 8]          -> evals [D+1, 8]
// fr_sumcheck_fold_round  tables [K, n, 8], r [8], coeffs [T, 8]   -> folded [K, n/2, 8],
//                                                                     evals [D+1, 8]
// fr_mle_fold             tables [B, n, 8], r [8]                  -> folded [B, n/2, 8]
// fr_logup_level          x, y, ones [N], (α, β) [2, 8]             -> W_(h−d) [2, N/2^d, 8]
// fr_logup_leaf_round     x, y, ones [N], (α, β), eq_low [B, 8], eq_high [C, 8], r [≥J, 8],
//                         coeffs [T, 8]  -> the round polynomial [D+1, 8], or (materialize)
//                         the step's stack folded J times [5, 2^k/2^J, 8]
// range_histogram         x int32[N], attributes lo, size -> counts int32[size] (a range
//                         lookup's multiplicities; values outside [lo, lo + size) dropped)
// The LogUp-GKR handlers rebuild a lookup's witness levels from the int32 leaves in registers
// (zkllm/logup.h; attributes depth, width, folds, materialize and the round's terms).
// Attributes of the round handlers: terms (the T×K exponent matrix, row-major), num_tables (K),
// has_eq (the last table multiplies every term); see zkllm/sumcheck.h.
// The fused fold-round folds variable 0 with the previous challenge and evaluates the next round
// polynomial from the freshly folded values while they are still in registers: one pass over
// memory per round.
#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include "xla/ffi/api/ffi.h"
#include "zkllm/logup.h"
#include "zkllm/parallel.h"
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

constexpr size_t kMinChunk = 1024;

// Sums the chunks' accumulators and applies a lone term's coefficient (see accumulate_pair).
struct Totals {
  Fr v[sc::kMaxDegree + 1];
  std::mutex mu;
  Totals() {
    for (auto& x : v) x = Fr::zero();
  }
  void add(const Fr* acc, int D) {
    std::lock_guard<std::mutex> lock(mu);
    for (int j = 0; j <= D; ++j) v[j] += acc[j];
  }
  void store(const sc::Terms& tm, const Fr* coeffs, uint32_t* out) {
    for (int j = 0; j <= tm.degree; ++j) {
      Fr x = tm.num_terms == 1 ? v[j] * coeffs[0] : v[j];
      x.store(out + 8 * j);
    }
  }
};

// One pair's evaluation: the default instance through accumulate_product (as on the GPU), any
// other through the term loop.
template <int K, bool Product>
inline void eval_pair(const Fr* f0, const Fr* f1, const sc::Terms& tm, const Fr* coeffs,
                      uint32_t unit, Fr* acc) {
  if constexpr (Product)
    sc::accumulate_product<K>(f0, f1, acc);
  else
    sc::accumulate_pair<K>(f0, f1, tm, coeffs, unit, acc);
}

template <int K, bool Product>
void round_impl(const uint32_t* t, size_t n, const sc::Terms& tm, const Fr* coeffs,
                uint32_t* out) {
  Totals total;
  const uint32_t unit = sc::unit_mask(tm, coeffs);
  zk::parallel_chunks(n / 2, kMinChunk, [&](size_t b, size_t e) {
    Fr acc[sc::kMaxDegree + 1];
    for (auto& x : acc) x = Fr::zero();
    Fr f0[K], f1[K];
    for (size_t i = b; i < e; ++i) {
      for (int k = 0; k < K; ++k) {
        f0[k] = Fr::load(t + 8 * (k * n + 2 * i));
        f1[k] = Fr::load(t + 8 * (k * n + 2 * i + 1));
      }
      eval_pair<K, Product>(f0, f1, tm, coeffs, unit, acc);
    }
    total.add(acc, tm.degree);
  });
  total.store(tm, coeffs, out);
}

template <int K, bool Product>
void fold_round_impl(const uint32_t* t, size_t n, const Fr& r, const sc::Terms& tm,
                     const Fr* coeffs, uint32_t* folded, uint32_t* out) {
  const size_t h = n / 2;
  Totals total;
  const uint32_t unit = sc::unit_mask(tm, coeffs);
  zk::parallel_chunks(n / 4, kMinChunk, [&](size_t b, size_t e) {
    Fr acc[sc::kMaxDegree + 1];
    for (auto& x : acc) x = Fr::zero();
    Fr f0[K], f1[K];
    for (size_t i = b; i < e; ++i) {
      for (int k = 0; k < K; ++k) {
        const uint32_t* src = t + 8 * (k * n + 4 * i);
        f0[k] = sc::fold_pair(Fr::load(src), Fr::load(src + 8), r);
        f1[k] = sc::fold_pair(Fr::load(src + 16), Fr::load(src + 24), r);
        f0[k].store(folded + 8 * (k * h + 2 * i));
        f1[k].store(folded + 8 * (k * h + 2 * i + 1));
      }
      eval_pair<K, Product>(f0, f1, tm, coeffs, unit, acc);
    }
    total.add(acc, tm.degree);
  });
  total.store(tm, coeffs, out);
}

template <template <int> class Fn, class... Args>
void dispatch(size_t K, Args&&... args) {
  switch (K) {
    case 1: Fn<1>::run(args...); break;
    case 2: Fn<2>::run(args...); break;
    case 3: Fn<3>::run(args...); break;
    case 4: Fn<4>::run(args...); break;
    case 5: Fn<5>::run(args...); break;
    case 6: Fn<6>::run(args...); break;
    case 7: Fn<7>::run(args...); break;
    default: Fn<8>::run(args...); break;
  }
}
static_assert(sc::kMaxTables == 8, "dispatch covers K = 1..8");

template <int K>
constexpr bool kMayBeProduct = K <= sc::kMaxTermDegree + 1;

template <int K>
struct RoundFn {
  static void run(const uint32_t* t, size_t n, const sc::Terms& tm, const Fr* c, uint32_t* out) {
    if constexpr (kMayBeProduct<K>) {
      if (sc::is_plain_product(tm, K)) return round_impl<K, true>(t, n, tm, c, out);
    }
    round_impl<K, false>(t, n, tm, c, out);
  }
};
template <int K>
struct FoldRoundFn {
  static void run(const uint32_t* t, size_t n, const Fr& r, const sc::Terms& tm, const Fr* c,
                  uint32_t* f, uint32_t* out) {
    if constexpr (kMayBeProduct<K>) {
      if (sc::is_plain_product(tm, K)) return fold_round_impl<K, true>(t, n, r, tm, c, f, out);
    }
    fold_round_impl<K, false>(t, n, r, tm, c, f, out);
  }
};

void load_coeffs(const ffi::Buffer<ffi::U32>& coeffs, const sc::Terms& tm, Fr* c) {
  for (int j = 0; j < tm.num_terms; ++j) c[j] = Fr::load(coeffs.typed_data() + 8 * j);
}

ffi::Error Round(ffi::Buffer<ffi::U32> tables, ffi::Buffer<ffi::U32> coeffs,
                 ffi::ResultBuffer<ffi::U32> evals,
                 ffi::ResultBuffer<ffi::U32> /*scratch: the CUDA handler's partials*/,
                 ffi::Span<const int64_t> terms, int64_t num_tables, int64_t has_eq) {
  sc::Terms tm;
  if (auto err = decode(terms, num_tables, has_eq, coeffs, evals->element_count() / 8, tm);
      err.failure())
    return err;
  size_t n = 0;
  if (auto err = table_dims(tables.element_count(), num_tables, 2, n); err.failure()) return err;
  Fr c[sc::kMaxTerms];
  load_coeffs(coeffs, tm, c);
  dispatch<RoundFn>(num_tables, tables.typed_data(), n, tm, c, evals->typed_data());
  return ffi::Error::Success();
}

ffi::Error FoldRound(ffi::Buffer<ffi::U32> tables, ffi::Buffer<ffi::U32> r,
                     ffi::Buffer<ffi::U32> coeffs, ffi::ResultBuffer<ffi::U32> folded,
                     ffi::ResultBuffer<ffi::U32> evals,
                     ffi::ResultBuffer<ffi::U32> /*scratch: the CUDA handler's partials*/,
                     ffi::Span<const int64_t> terms, int64_t num_tables, int64_t has_eq) {
  sc::Terms tm;
  if (auto err = decode(terms, num_tables, has_eq, coeffs, evals->element_count() / 8, tm);
      err.failure())
    return err;
  size_t n = 0;
  if (auto err = table_dims(tables.element_count(), num_tables, 4, n); err.failure()) return err;
  if (r.element_count() != 8 || folded->element_count() != tables.element_count() / 2)
    return ffi::Error::InvalidArgument("sumcheck fold round: bad challenge or output shape");
  Fr c[sc::kMaxTerms];
  load_coeffs(coeffs, tm, c);
  dispatch<FoldRoundFn>(num_tables, tables.typed_data(), n, Fr::load(r.typed_data()), tm, c,
                        folded->typed_data(), evals->typed_data());
  return ffi::Error::Success();
}

ffi::Error Fold(ffi::Buffer<ffi::U32> tables, ffi::Buffer<ffi::U32> r,
                ffi::ResultBuffer<ffi::U32> folded) {
  size_t half = folded->element_count() / 8;
  if (r.element_count() != 8 || tables.element_count() != 16 * half)
    return ffi::Error::InvalidArgument("mle fold: bad challenge or output shape");
  const uint32_t* t = tables.typed_data();
  uint32_t* o = folded->typed_data();
  Fr c = Fr::load(r.typed_data());
  zk::parallel_for(half, 4096, [&](size_t j) {
    zk::sumcheck::fold_pair(Fr::load(t + 16 * j), Fr::load(t + 16 * j + 8), c).store(o + 8 * j);
  });
  return ffi::Error::Success();
}

ffi::Error LogupLevel(ffi::Buffer<ffi::U32> x, ffi::Buffer<ffi::U32> y, ffi::Buffer<ffi::U32> ones,
                      ffi::Buffer<ffi::U32> ab, ffi::ResultBuffer<ffi::U32> out, int64_t depth,
                      int64_t width) {
  zk::logup::Leaves w;
  size_t len = 0;
  if (auto err = logup_level(x, y, ones, ab, out->element_count(), depth, width, w, len);
      err.failure())
    return err;
  zk::logup::load_challenges(w, ab.typed_data());
  uint32_t* o = out->typed_data();
  zk::parallel_for(len, 1024, [&](size_t j) {
    const zk::logup::Frac f = zk::logup::level_entry(w, j, len, (int)depth);
    f.p.store(o + 8 * j);
    f.q.store(o + 8 * (len + j));
  });
  return ffi::Error::Success();
}

template <int J>
void leaf_round_impl(const zk::logup::Step& s, const Fr* r, int64_t materialize,
                     const sc::Terms& tm, const Fr* coeffs, uint32_t* out) {
  namespace lg = zk::logup;
  const size_t items = s.half >> J;
  if (materialize) {
    zk::parallel_for(items, 1024, [&](size_t i) {
      Fr f[lg::kTables];
      lg::folded<J>(s, i, r, f);
      for (int t = 0; t < lg::kTables; ++t) f[t].store(out + 8 * (t * items + i));
    });
    return;
  }
  Totals total;
  const uint32_t unit = sc::unit_mask(tm, coeffs);
  zk::parallel_chunks(items / 2, kMinChunk, [&](size_t b, size_t e) {
    Fr acc[sc::kMaxDegree + 1];
    for (auto& v : acc) v = Fr::zero();
    for (size_t i = b; i < e; ++i) lg::accumulate<J>(s, i, r, tm, coeffs, unit, acc);
    total.add(acc, tm.degree);
  });
  total.store(tm, coeffs, out);
}

ffi::Error LogupLeafRound(ffi::Buffer<ffi::U32> x, ffi::Buffer<ffi::U32> y,
                          ffi::Buffer<ffi::U32> ones, ffi::Buffer<ffi::U32> ab,
                          ffi::Buffer<ffi::U32> eq_low, ffi::Buffer<ffi::U32> eq_high,
                          ffi::Buffer<ffi::U32> r, ffi::Buffer<ffi::U32> coeffs,
                          ffi::ResultBuffer<ffi::U32> out,
                          ffi::ResultBuffer<ffi::U32> /*scratch: the CUDA handler's partials*/,
                          ffi::Span<const int64_t> terms, int64_t depth, int64_t width,
                          int64_t folds, int64_t materialize) {
  sc::Terms tm;
  zk::logup::Step s;
  if (auto err = logup_round(terms, x, y, ones, ab, eq_low, eq_high, r, coeffs,
                             out->element_count(), depth, width, folds, materialize, tm, s);
      err.failure())
    return err;
  zk::logup::load_challenges(s.w, ab.typed_data());
  Fr rs[zk::logup::kMaxFolds];
  for (int64_t j = 0; j < folds; ++j) rs[j] = Fr::load(r.typed_data() + 8 * j);
  Fr c[sc::kMaxTerms];
  if (!materialize) load_coeffs(coeffs, tm, c);
  uint32_t* o = out->typed_data();
  switch (folds) {
    case 0: leaf_round_impl<0>(s, rs, materialize, tm, c, o); break;
    case 1: leaf_round_impl<1>(s, rs, materialize, tm, c, o); break;
    default: leaf_round_impl<2>(s, rs, materialize, tm, c, o); break;
  }
  return ffi::Error::Success();
}

// x int32[n] -> counts int32[size] of the values in [lo, lo + size); others are dropped.
// Chunks count into their own tables, merged under a lock.
ffi::Error RangeHistogram(ffi::Buffer<ffi::S32> x, ffi::ResultBuffer<ffi::S32> out, int64_t lo,
                          int64_t size) {
  if (size < 1 || (size_t)size != out->element_count())
    return ffi::Error::InvalidArgument("range_histogram: output size differs from the range");
  int32_t* o = out->typed_data();
  std::fill(o, o + size, 0);
  const int32_t* px = x.typed_data();
  const uint32_t base = (uint32_t)lo, n_bins = (uint32_t)size;
  std::mutex merge;
  zk::parallel_chunks(x.element_count(), size_t{1} << 20, [&](size_t b, size_t e) {
    std::vector<int32_t> local(n_bins, 0);
    for (size_t i = b; i < e; ++i) {
      const uint32_t d = (uint32_t)px[i] - base;
      if (d < n_bins) ++local[d];
    }
    std::lock_guard<std::mutex> hold(merge);
    for (uint32_t j = 0; j < n_bins; ++j) o[j] += local[j];
  });
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_range_histogram_cpu, RangeHistogram,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::S32>>()
                                  .Ret<ffi::Buffer<ffi::S32>>()
                                  .Attr<int64_t>("lo")
                                  .Attr<int64_t>("size"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_fr_sumcheck_round_cpu, Round,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>()
                                  .Attr<ffi::Span<const int64_t>>("terms")
                                  .Attr<int64_t>("num_tables")
                                  .Attr<int64_t>("has_eq"));
XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_fr_sumcheck_fold_round_cpu, FoldRound,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>()
                                  .Attr<ffi::Span<const int64_t>>("terms")
                                  .Attr<int64_t>("num_tables")
                                  .Attr<int64_t>("has_eq"));
XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_fr_mle_fold_cpu, Fold,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>());
XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_fr_logup_level_cpu, LogupLevel,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>()
                                  .Attr<int64_t>("depth")
                                  .Attr<int64_t>("width"));
XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_fr_logup_leaf_round_cpu, LogupLeafRound,
                              ffi::Ffi::Bind()
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
                                  .Attr<int64_t>("materialize"));
