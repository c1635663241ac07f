#pragma once
// Per-pair pieces of a sumcheck round, shared by the CPU and CUDA handlers.
//
// Tables are MLEs over the boolean hypercube with variable 0 as the least significant bit of the
// index, so the round that binds variable 0 pairs entries (2i, 2i+1). The summand is a sum of
// products  [eq(x) ·] Σ_j c_j · Π_k f_k(x)^{e_jk}  with a static term structure (exponents e_jk)
// and runtime coefficients c_j; its round polynomial has degree D = max_j Σ_k e_jk (+1 with eq)
// and is sent as its values at t = 0..D.
#include <cstddef>
#include <cstdint>
#include <string>

#include "zkllm/field.h"

namespace zk::sumcheck {

constexpr int kMaxTables = 8;  // every table of an instance, the eq table included
constexpr int kMaxTerms = 16;
constexpr int kMaxTermDegree = 4;  // Σ_k e_jk for one term (eq excluded)
constexpr int kMaxDegree = 5;      // with eq

// The static structure of an instance, decoded once per call from the handler's attributes.
struct Terms {
  int32_t num_terms;
  int32_t degree;  // D: the round polynomial is evaluated at t = 0..D
  int32_t has_eq;  // the last table is a common factor of every term (eq(u, x))
  uint8_t exps[kMaxTerms][kMaxTables];  // exponent of table k in term j; the eq column is 0
};

// acc[t] += [eq_t ·] Σ_j c_j Π_k f_k(t)^{e_jk} for t = 0..D, where f_k(t) = f0[k] + t·(f1[k] −
// f0[k]) is stepped by adding the slope. K is the number of tables (a compile-time bound, so the
// per-table arrays stay in registers); the term loop runs over uniform runtime data. Bit j of
// `unit` says c_j = 1, so that product skips its coefficient; a single term is always marked
// unit here and its coefficient applied once to the reduced sums (see unit_mask).
template <int K>
ZK_HD void accumulate_pair(const Fr* f0, const Fr* f1, const Terms& tm, const Fr* coeffs,
                           uint32_t unit, Fr* acc) {
  Fr cur[K], slope[K];
  ZK_UNROLL
  for (int k = 0; k < K; ++k) {
    cur[k] = f0[k];
    slope[k] = f1[k] - f0[k];
  }
  ZK_UNROLL
  for (int t = 0; t <= kMaxDegree; ++t) {
    if (t > tm.degree) break;
    Fr sum = Fr::zero();
    for (int j = 0; j < tm.num_terms; ++j) {
      bool have = !((unit >> j) & 1u);
      Fr prod = have ? coeffs[j] : Fr::zero();
      ZK_UNROLL
      for (int k = 0; k < K; ++k) {
        for (int e = 0; e < tm.exps[j][k]; ++e) {
          if (have) {
            prod = prod * cur[k];
          } else {
            prod = cur[k];
            have = true;
          }
        }
      }
      sum = j == 0 ? prod : sum + prod;
    }
    if (tm.has_eq) sum = sum * cur[K - 1];
    acc[t] += sum;
    if (t < tm.degree) {
      ZK_UNROLL
      for (int k = 0; k < K; ++k) cur[k] += slope[k];
    }
  }
}

// True for the default instance: one term that holds every table other than eq exactly once,
// so the summand is the product of all K native tables (eq included) and D = K. It takes
// accumulate_product, whose evaluation points are compile-time, instead of the term loop.
ZK_HD bool is_plain_product(const Terms& tm, int K) {
  if (tm.num_terms != 1 || tm.degree != K) return false;
  for (int k = 0; k < K - tm.has_eq; ++k)
    if (tm.exps[0][k] != 1) return false;
  return true;
}

// acc[t] += Π_k f_k(t) for t = 0..K (see is_plain_product; the term's coefficient is applied to
// the reduced sums). Every point is unrolled, so the K + 1 products are independent chains the
// compiler can interleave. t = 1 uses f1 itself, which equals f0 + slope.
template <int K>
ZK_HD void accumulate_product(const Fr* f0, const Fr* f1, Fr* acc) {
  Fr slope[K], cur[K];
  ZK_UNROLL
  for (int k = 0; k < K; ++k) {
    slope[k] = f1[k] - f0[k];
    cur[k] = f1[k];
  }
  Fr p0 = f0[0], p1 = f1[0];
  ZK_UNROLL
  for (int k = 1; k < K; ++k) {
    p0 = p0 * f0[k];
    p1 = p1 * f1[k];
  }
  acc[0] += p0;
  acc[1] += p1;
  ZK_UNROLL
  for (int t = 2; t <= K; ++t) {
    ZK_UNROLL
    for (int k = 0; k < K; ++k) cur[k] += slope[k];
    Fr p = cur[0];
    ZK_UNROLL
    for (int k = 1; k < K; ++k) p = p * cur[k];
    acc[t] += p;
  }
}

// Host side: build and check a Terms from the handler's operands and attributes. `exps` is the
// row-major T×K exponent matrix, `num_coeffs` = T, `num_evals` = D + 1. Returns "" or an error.
inline std::string decode_terms(const int64_t* exps, size_t n_exps, int64_t num_tables,
                                int64_t has_eq, size_t num_coeffs, size_t num_evals, Terms& out) {
  const size_t K = (size_t)num_tables, T = num_coeffs;
  if (num_tables < 1 || num_tables > kMaxTables)
    return "between 1 and " + std::to_string(kMaxTables) + " tables, got " +
           std::to_string(num_tables);
  if (has_eq != 0 && has_eq != 1) return "has_eq must be 0 or 1";
  if (has_eq && K < 2) return "an eq instance needs at least one table besides eq";
  if (T < 1 || T > (size_t)kMaxTerms)
    return "between 1 and " + std::to_string(kMaxTerms) + " terms, got " + std::to_string(T);
  if (n_exps != T * K) return "the term matrix must be [terms, tables]";
  out.num_terms = (int32_t)T;
  out.has_eq = (int32_t)has_eq;
  int32_t deg = 0;
  for (size_t j = 0; j < T; ++j) {
    int64_t d = 0;
    for (size_t k = 0; k < (size_t)kMaxTables; ++k) {
      int64_t e = k < K ? exps[j * K + k] : 0;
      if (e < 0 || e > kMaxTermDegree) return "term exponents must be in [0, 4]";
      if (has_eq && k == K - 1 && e != 0) return "the eq table cannot appear in a term";
      out.exps[j][k] = (uint8_t)e;
      d += e;
    }
    if (d < 1 || d > kMaxTermDegree) return "every term needs between 1 and 4 factors";
    if (d > deg) deg = (int32_t)d;
  }
  for (size_t j = T; j < (size_t)kMaxTerms; ++j)
    for (int k = 0; k < kMaxTables; ++k) out.exps[j][k] = 0;
  out.degree = deg + (int32_t)has_eq;
  if (num_evals != (size_t)out.degree + 1)
    return "the output must hold D + 1 = " + std::to_string(out.degree + 1) + " evaluations";
  return "";
}

// Bit j set when term j needs no coefficient multiplication: c_j = 1, or the lone term (whose
// coefficient is applied to the reduced sums instead).
ZK_HD uint32_t unit_mask(const Terms& tm, const Fr* coeffs) {
  if (tm.num_terms == 1) return 1u;
  const Fr one = Fr::one();
  uint32_t mask = 0;
  for (int j = 0; j < tm.num_terms; ++j)
    if (coeffs[j] == one) mask |= 1u << j;
  return mask;
}

// f(r) on the line through f(0) = a and f(1) = b: a + r·(b − a).
ZK_HD Fr fold_pair(const Fr& a, const Fr& b, const Fr& r) { return a + r * (b - a); }

}  // namespace zk::sumcheck
