#pragma once
// The LogUp-GKR witness tree rebuilt from its int32 leaves, per entry (lookup.py, "Tree"), shared
// by the CPU and CUDA handlers of fr_logup_level and fr_logup_leaf_round.
//
// Leaf i is the fraction (p, q) = (ones[i], α − (x[i] + β·y[i])) (y only for width 2). Level
// W_(h−d) entry j is the fraction sum of the leaves j + k·2^(h−d), k < 2^d, with
// (p_a, q_a) ⊕ (p_b, q_b) = (p_a·q_b + p_b·q_a, q_a·q_b): P = Σ_a p_a·Π_(b≠a) q_b and Q = Π q,
// the same field elements in any order of summation, so a sequential sum equals the tree's.
//
// A step over W_(k+1) sums over the stack [p_lo, p_hi, q_lo, q_hi, eq] of 2^k entries
// (lo = W_(k+1)[x], hi = W_(k+1)[x + 2^k]; eq[x] = eq_low[x mod B]·eq_high[x / B]). Its first
// rounds bind variables 0..J−1 with the challenges r_0..r_(J−1): entry i of the stack folded J
// times is the fold of its 2^J consecutive entries (fold_pair(a, b, r) = a + r·(b − a), bit 0
// first). Nothing of the level is stored: every entry is rebuilt from the leaves in registers.
#include <cstddef>
#include <cstdint>

#include "zkllm/field.h"
#include "zkllm/macros.h"
#include "zkllm/sumcheck.h"

namespace zk::logup {

constexpr int kMaxFolds = 2;    // J: the lazy rounds before the stack is materialized (each J
                                 // is a kernel of its own, and a larger J inlines 2^J times more)
constexpr int kMaxDepth = 16;   // d: leaves per level entry 2^d
constexpr int kTables = 5;      // p_lo, p_hi, q_lo, q_hi, eq

struct Frac {
  Fr p, q;
};

// What the leaves are made of. y is null for width 1.
struct Leaves {
  const uint32_t* x;
  const uint32_t* y;
  const uint32_t* ones;
  Fr alpha, beta;
};

// α and β from their operand [2, 8] (device memory in a kernel).
ZK_HD void load_challenges(Leaves& w, const uint32_t* ab) {
  w.alpha = Fr::load(ab);
  w.beta = Fr::load(ab + 8);
}

ZK_HD Frac leaf(const Leaves& w, size_t i) {
  Fr s = fr_from_i32(w.x[i]);
  if (w.y) s += fr_from_i32(w.y[i]) * w.beta;
  const uint32_t one = w.ones[i];  // 0 or 1 in practice: no Montgomery conversion for those
  return {one == 0 ? Fr::zero() : one == 1 ? Fr::one() : fr_from_i32(one), w.alpha - s};
}

// W_(h−depth)[j]; stride = 2^(h−depth), the level's length.
ZK_HD Frac level_entry(const Leaves& w, size_t j, size_t stride, int depth) {
  Frac a = leaf(w, j);
  const size_t n = (size_t)1 << depth;
  for (size_t k = 1; k < n; ++k) {
    const Frac b = leaf(w, j + k * stride);
    a = {a.p * b.q + b.p * a.q, a.q * b.q};
  }
  return a;
}

// The step's level: W_(k+1) at depth d, entries x (lo) and x + half (hi), half = 2^k.
struct Step {
  Leaves w;
  size_t half;  // 2^k
  int depth;
  const uint32_t* eq_low;   // [B, 8]
  const uint32_t* eq_high;  // [C, 8]
  int low_bits;             // log2 B
};

// The four witness tables at x: (p_lo, p_hi, q_lo, q_hi).
ZK_HD void halves(const Step& s, size_t x, Fr* out) {
  const Frac lo = level_entry(s.w, x, 2 * s.half, s.depth);
  const Frac hi = level_entry(s.w, x + s.half, 2 * s.half, s.depth);
  out[0] = lo.p;
  out[1] = hi.p;
  out[2] = lo.q;
  out[3] = hi.q;
}

ZK_HD Fr eq_at(const Step& s, size_t x) {
  const size_t mask = ((size_t)1 << s.low_bits) - 1;
  return Fr::load(s.eq_low + 8 * (x & mask)) * Fr::load(s.eq_high + 8 * (x >> s.low_bits));
}

// The five tables at entry i of the stack folded J times (r: the J challenges).
template <int J>
ZK_HD void folded(const Step& s, size_t i, const Fr* r, Fr* out) {
  if constexpr (J == 0) {
    halves(s, i, out);
    out[4] = eq_at(s, i);
  } else {
    Fr a[kTables], b[kTables];
    folded<J - 1>(s, 2 * i, r, a);
    folded<J - 1>(s, 2 * i + 1, r, b);
    ZK_UNROLL
    for (int t = 0; t < kTables; ++t) out[t] = sumcheck::fold_pair(a[t], b[t], r[J - 1]);
  }
}

// Adds pair i's round-polynomial values (entries 2i and 2i+1 of the stack folded J times).
template <int J>
ZK_HD void accumulate(const Step& s, size_t i, const Fr* r, const sumcheck::Terms& tm,
                      const Fr* coeffs, uint32_t unit, Fr* acc) {
  Fr f0[kTables], f1[kTables];
  folded<J>(s, 2 * i, r, f0);
  folded<J>(s, 2 * i + 1, r, f1);
  sumcheck::accumulate_pair<kTables>(f0, f1, tm, coeffs, unit, acc);
}

}  // namespace zk::logup
