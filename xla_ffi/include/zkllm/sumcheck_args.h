#pragma once
// Argument checks shared by the CPU and CUDA sumcheck handlers (host code only).
#include <cstdint>
#include <string>

#include "xla/ffi/api/ffi.h"
#include "zkllm/logup.h"
#include "zkllm/sumcheck.h"

namespace zk::sumcheck_args {

namespace ffi = xla::ffi;
namespace sc = zk::sumcheck;

// Tables are [K, n, 8] with n a power of two of at least min_n.
inline ffi::Error table_dims(size_t words, size_t K, size_t min_n, size_t& n) {
  if (words % (8 * K)) return ffi::Error::InvalidArgument("sumcheck: tables are not [K, n, 8]");
  n = words / (8 * K);
  if (n < min_n || (n & (n - 1)))
    return ffi::Error::InvalidArgument("sumcheck: table length must be a power of two >= " +
                                       std::to_string(min_n) + ", got " + std::to_string(n));
  return ffi::Error::Success();
}

// The static term structure and the coefficients [T, 8] of a sum-of-products instance.
inline ffi::Error decode(ffi::Span<const int64_t> terms, int64_t num_tables, int64_t has_eq,
                  const ffi::Buffer<ffi::U32>& coeffs, size_t num_evals, sc::Terms& tm) {
  if (coeffs.element_count() % 8)
    return ffi::Error::InvalidArgument("sumcheck: coefficients are not [T, 8]");
  std::string err = sc::decode_terms(terms.begin(), terms.size(), num_tables, has_eq,
                                     coeffs.element_count() / 8, num_evals, tm);
  if (!err.empty()) return ffi::Error::InvalidArgument("sumcheck: " + err);
  return ffi::Error::Success();
}

// The leaves of fr_logup_level and fr_logup_leaf_round: x, y, ones int32 [N] (y used only for
// width 2; N a power of two), (α, β) [2, 8]. Fills w (y null for width 1) and N.
inline ffi::Error logup_leaves(const ffi::Buffer<ffi::U32>& x, const ffi::Buffer<ffi::U32>& y,
                               const ffi::Buffer<ffi::U32>& ones,
                               const ffi::Buffer<ffi::U32>& ab, int64_t width, int64_t depth,
                               zk::logup::Leaves& w, size_t& n) {
  n = x.element_count();
  if (n < 1 || (n & (n - 1)))
    return ffi::Error::InvalidArgument("logup: the leaves must be a power of two, got " +
                                       std::to_string(n));
  if (width != 1 && width != 2) return ffi::Error::InvalidArgument("logup: width is 1 or 2");
  if (ones.element_count() != n || (width == 2 && y.element_count() != n))
    return ffi::Error::InvalidArgument("logup: x, y and ones must have the same length");
  if (ab.element_count() != 16) return ffi::Error::InvalidArgument("logup: (α, β) is [2, 8]");
  if (depth < 0 || depth > zk::logup::kMaxDepth || ((size_t)1 << depth) > n)
    return ffi::Error::InvalidArgument("logup: depth must be in [0, min(16, log2 N)], got " +
                                       std::to_string(depth));
  w.x = x.typed_data();
  w.y = width == 2 ? y.typed_data() : nullptr;
  w.ones = ones.typed_data();
  return ffi::Error::Success();
}

// Every operand and attribute check of fr_logup_level: the leaves and the output [2, N/2^d, 8].
// Fills w and the level's length.
inline ffi::Error logup_level(const ffi::Buffer<ffi::U32>& x, const ffi::Buffer<ffi::U32>& y,
                              const ffi::Buffer<ffi::U32>& ones, const ffi::Buffer<ffi::U32>& ab,
                              size_t out_words, int64_t depth, int64_t width,
                              zk::logup::Leaves& w, size_t& len) {
  size_t n = 0;
  if (auto err = logup_leaves(x, y, ones, ab, width, depth, w, n); err.failure()) return err;
  len = n >> depth;
  if (out_words != 16 * len)
    return ffi::Error::InvalidArgument("logup level: the output is [2, N / 2^depth, 8]");
  return ffi::Error::Success();
}

// The step of fr_logup_leaf_round: eq_low [B, 8] and eq_high [C, 8] with B·C = 2^k and
// N = 2^(k + 1 + depth), folds J in [0, 2] with r [≥ J, 8], and the output: the stack folded J
// times [5, 2^k / 2^J, 8] (materialize) or the round polynomial [D + 1, 8] (at least one pair).
inline ffi::Error logup_step(size_t n, int64_t depth, const ffi::Buffer<ffi::U32>& eq_low,
                             const ffi::Buffer<ffi::U32>& eq_high, const ffi::Buffer<ffi::U32>& r,
                             int64_t folds, int64_t materialize, size_t out_words,
                             const sc::Terms& tm, zk::logup::Step& s) {
  const size_t b = eq_low.element_count() / 8, c = eq_high.element_count() / 8;
  if (!b || !c || (b & (b - 1)) || (c & (c - 1)) || eq_low.element_count() % 8 ||
      eq_high.element_count() % 8)
    return ffi::Error::InvalidArgument("logup: eq_low and eq_high are [2^a, 8]");
  s.half = b * c;
  if ((s.half << (depth + 1)) != n)
    return ffi::Error::InvalidArgument("logup: the leaves must number 2·|eq|·2^depth");
  if (folds < 0 || folds > zk::logup::kMaxFolds || r.element_count() < 8 * (size_t)folds)
    return ffi::Error::InvalidArgument("logup: folds in [0, 2], with a challenge for each");
  const size_t items = s.half >> folds;
  if (materialize) {
    if (items < 1 || out_words != 8 * zk::logup::kTables * items)
      return ffi::Error::InvalidArgument("logup: the folded stack is [5, 2^k / 2^J, 8]");
  } else if (items < 2 || !tm.has_eq || out_words != 8 * (size_t)(tm.degree + 1)) {
    return ffi::Error::InvalidArgument("logup: a round needs a pair, eq and D + 1 outputs");
  }
  s.depth = (int)depth;
  s.eq_low = eq_low.typed_data();
  s.eq_high = eq_high.typed_data();
  s.low_bits = 0;
  while (((size_t)1 << s.low_bits) < b) ++s.low_bits;
  return ffi::Error::Success();
}

// Every operand and attribute check of fr_logup_leaf_round (both back ends): the terms (a round
// only; a materializing pass evaluates nothing), the leaves and the step. Fills tm and s.
inline ffi::Error logup_round(ffi::Span<const int64_t> terms, const ffi::Buffer<ffi::U32>& x,
                              const ffi::Buffer<ffi::U32>& y, const ffi::Buffer<ffi::U32>& ones,
                              const ffi::Buffer<ffi::U32>& ab,
                              const ffi::Buffer<ffi::U32>& eq_low,
                              const ffi::Buffer<ffi::U32>& eq_high,
                              const ffi::Buffer<ffi::U32>& r, const ffi::Buffer<ffi::U32>& coeffs,
                              size_t out_words, int64_t depth, int64_t width, int64_t folds,
                              int64_t materialize, sc::Terms& tm, zk::logup::Step& s) {
  tm = sc::Terms{};
  if (!materialize) {
    if (auto err = decode(terms, zk::logup::kTables, 1, coeffs, out_words / 8, tm);
        err.failure())
      return err;
  }
  size_t n = 0;
  if (auto err = logup_leaves(x, y, ones, ab, width, depth, s.w, n); err.failure()) return err;
  return logup_step(n, depth, eq_low, eq_high, r, folds, materialize, out_words, tm, s);
}

}  // namespace zk::sumcheck_args
