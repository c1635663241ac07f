#pragma once
// Pippenger multi-scalar multiplication on the host, with signed windows and XYZZ buckets.
//
// Scalars are plain little-endian integers of L 32-bit limbs and at most `nbits` bits; points are
// affine. Digits are signed (in [-2^(c-1), 2^(c-1)]) so each window needs 2^(c-1) buckets, and a
// negative digit subtracts the point, which costs nothing extra in affine form.
#include <cmath>
#include <cstring>
#include <vector>

#include "zkllm/g1.h"
#include "zkllm/parallel.h"

namespace zk {

template <class F>
void batch_inverse_host(F* v, size_t n) {  // in place; zeros stay zero
  std::vector<F> prefix(n);
  F acc = F::one();
  for (size_t i = 0; i < n; ++i) {
    prefix[i] = acc;
    if (!v[i].is_zero()) acc = acc * v[i];
  }
  F inv = acc.inv();
  for (size_t i = n; i-- > 0;) {
    if (v[i].is_zero()) continue;
    F x = v[i];
    v[i] = inv * prefix[i];
    inv = inv * x;
  }
}

// Jacobian points (36 words each) to affine, with one inversion per chunk.
inline void to_affine_host(const uint32_t* jac, size_t n, G1Affine* out) {
  parallel_chunks(n, 4096, [&](size_t b, size_t e) {
    std::vector<Fp> z(e - b);
    for (size_t i = b; i < e; ++i) z[i - b] = Fp::load(jac + 36 * i + 24);
    batch_inverse_host(z.data(), e - b);
    for (size_t i = b; i < e; ++i) {
      const uint32_t* p = jac + 36 * i;
      if (z[i - b].is_zero()) {
        out[i] = G1Affine{Fp::zero(), Fp::zero(), true};
        continue;
      }
      Fp zi = z[i - b], zi2 = zi.sqr();
      out[i] = G1Affine{Fp::load(p) * zi2, Fp::load(p + 12) * zi2 * zi, false};
    }
  });
}

inline int msm_window_bits(size_t n) {
  if (n < 32) return 3;
  int c = (int)std::lround(std::log((double)n)) + 2;  // ~ln(n) + 2, as arkworks does
  return c < 3 ? 3 : (c > 16 ? 16 : c);
}

inline uint32_t extract_bits(const uint32_t* k, int L, int pos, int c) {
  int limb = pos / 32, off = pos % 32;
  if (limb >= L) return 0;
  uint64_t w = k[limb];
  if (limb + 1 < L) w |= (uint64_t)k[limb + 1] << 32;
  return (uint32_t)((w >> off) & ((1ull << c) - 1));
}

// Signed digits of every scalar, window-major (digits[w * n + i]) so that a window's pass reads
// them sequentially. A set `neg[i]` negates scalar i (its point is subtracted instead).
inline void signed_digits(const uint32_t* scal, const uint8_t* neg, int L, size_t n, int c,
                          int W, std::vector<int32_t>& digits) {
  digits.assign(n * W, 0);
  const int32_t half = 1 << (c - 1);
  parallel_chunks(n, 4096, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      int32_t carry = 0;
      const bool flip = neg && neg[i];
      for (int w = 0; w < W; ++w) {
        int32_t d = (int32_t)extract_bits(scal + (size_t)L * i, L, w * c, c) + carry;
        carry = 0;
        if (d > half) {
          d -= 1 << c;
          carry = 1;
        }
        digits[(size_t)w * n + i] = flip ? -d : d;
      }
    }
  });
}

// Σ ±k_i P_i. With `threaded`, windows are spread over the host's threads.
inline G1 msm_host(const G1Affine* pts, const uint32_t* scal, const uint8_t* neg, int L,
                   int nbits, size_t n, bool threaded) {
  if (n == 0) return G1::identity();
  const int c = msm_window_bits(n);
  const int W = (nbits + c - 1) / c + 1;  // one more window for the final carry
  std::vector<int32_t> digits;
  signed_digits(scal, neg, L, n, c, W, digits);
  std::vector<G1XYZZ> window_sums(W, G1XYZZ::identity());
  const size_t nb = size_t{1} << (c - 1);
  auto run_window = [&](int w) {
    std::vector<G1XYZZ> buckets(nb, G1XYZZ::identity());
    const int32_t* dw = digits.data() + (size_t)w * n;
    for (size_t i = 0; i < n; ++i) {
      int32_t d = dw[i];
      if (d > 0) {
        buckets[d - 1] = buckets[d - 1].add_affine(pts[i]);
      } else if (d < 0) {
        buckets[-d - 1] = buckets[-d - 1].sub_affine(pts[i]);
      }
    }
    G1XYZZ running = G1XYZZ::identity(), sum = G1XYZZ::identity();
    for (size_t j = nb; j-- > 0;) {
      running = running + buckets[j];
      sum = sum + running;
    }
    window_sums[w] = sum;
  };
  if (threaded) {
    // Largest windows first: the top window only holds carries.
    parallel_dynamic((size_t)W, [&](size_t w) { run_window((int)w); });
  } else {
    for (int w = 0; w < W; ++w) run_window(w);
  }
  G1XYZZ acc = window_sums[W - 1];
  for (int w = W - 2; w >= 0; --w) {
    for (int j = 0; j < c; ++j) acc = acc.dbl();
    acc = acc + window_sums[w];
  }
  return acc.to_jacobian();
}

}  // namespace zk
