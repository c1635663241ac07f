#pragma once
// Σ_i e_i·M[i, j] for an int32 matrix M and a field vector e (Montgomery form), one column j
// at a time, with wide integer accumulation: each entry costs eight 32x32-bit products and no
// modular reduction; one reduction per column at the end. Host and device share this code, so
// the CUDA handler matches the CPU handler bit for bit.
//
// Signs: m + 2^31 (the int32's bits with the top bit flipped) is an unsigned 32-bit integer, so
// A_j = Σ_i e_i·(m_ij + 2^31) and K = 2^31·Σ_i e_i are sums of non-negative terms; the column is
// A_j − K mod r. The limbs of e are its Montgomery form ẽ = e·2^256 mod r (as integers < r), so
// A_j − K ≡ (Σ e_i m_ij)·2^256: exactly the Montgomery form of the result. `finish` reduces
// the wide integers with Fr::from_wide (which gives Mont(x) = x·2^256) and one Montgomery
// product by the integer 1 (which divides by 2^256 again).
#include <cstddef>
#include <cstdint>

#include "zkllm/field.h"
#include "zkllm/macros.h"

namespace zk::fold_i32 {

// 12 limbs = 384 bits: a sum of 2^k terms below 2^(255+32) stays below 2^384 for k < 97.
constexpr int kWide = 12;

// acc += e·u (e: 8 limbs, u: an unsigned 32-bit value).
ZK_HD void mac(uint32_t* acc, const uint32_t* e, uint32_t u) {
  uint64_t carry = 0;
  ZK_UNROLL
  for (int k = 0; k < 8; ++k) {
    uint64_t t = (uint64_t)e[k] * u + acc[k] + carry;
    acc[k] = (uint32_t)t;
    carry = t >> 32;
  }
  ZK_UNROLL
  for (int k = 8; k < kWide; ++k) {
    uint64_t t = (uint64_t)acc[k] + carry;
    acc[k] = (uint32_t)t;
    carry = t >> 32;
  }
}

// acc += b (both wide).
ZK_HD void add_wide(uint32_t* acc, const uint32_t* b) {
  uint64_t carry = 0;
  ZK_UNROLL
  for (int k = 0; k < kWide; ++k) {
    uint64_t t = (uint64_t)acc[k] + b[k] + carry;
    acc[k] = (uint32_t)t;
    carry = t >> 32;
  }
}

// The wide integer mod r, as a Montgomery element Mont(x) = x·2^256 mod r.
ZK_HD Fr reduce_mont(const uint32_t* x) {
  uint32_t w[16];
  ZK_UNROLL
  for (int k = 0; k < 16; ++k) w[k] = k < kWide ? x[k] : 0u;
  return Fr::from_wide(w);
}

// The column's result from A_j and the precomputed Mont(K) (see the header comment).
ZK_HD Fr finish(const uint32_t* a, const Fr& mont_k) {
  Fr one_int = Fr::zero();
  one_int.v[0] = 1;
  return (reduce_mont(a) - mont_k) * one_int;
}

// Mont(K) for K = 2^31·Σ_i e_i, from the wide sum S = Σ_i e_i.
ZK_HD Fr offset(const uint32_t* s) {
  uint32_t k[kWide];
  ZK_UNROLL
  for (int i = 0; i < kWide; ++i) k[i] = 0;
  uint32_t two31 = 0x80000000u;
  ZK_UNROLL
  for (int i = 0; i + 1 < kWide; ++i) {  // S < 2^(255+k): the top limb of S is zero
    uint64_t t = (uint64_t)s[i] * two31 + k[i];
    k[i] = (uint32_t)t;
    k[i + 1] = (uint32_t)(t >> 32);
  }
  return reduce_mont(k);
}

ZK_HD uint32_t biased(uint32_t m_bits) { return m_bits ^ 0x80000000u; }

// The handlers' operand check (element counts): M [rows, cols], e [rows, 8], the output
// [cols, 8], rows and cols at least 1.
inline bool shapes_ok(size_t m_count, size_t e_count, size_t o_count) {
  const size_t rows = e_count / 8, cols = o_count / 8;
  return rows && cols && e_count % 8 == 0 && o_count % 8 == 0 && m_count == rows * cols;
}
constexpr const char* kShapeError =
    "fr_fold_rows_i32: M must be [rows, cols], e [rows, 8], the output [cols, 8]";

}  // namespace zk::fold_i32
