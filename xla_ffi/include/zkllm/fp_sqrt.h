#pragma once
// Square roots in Fp (p = 3 mod 4), shared by hash to curve and point decompression.
//
// Both are one fixed exponentiation; a 4-bit fixed window needs ~380 squarings + ~106
// multiplications against ~380 + ~228 for plain square-and-multiply on these exponents.
#include "zkllm/field.h"

namespace zk {

// x^e for a constant 12-limb exponent e(i), 4-bit fixed windows from the top.
template <class ExpFn>
ZK_HD Fp fp_pow_window(const Fp& x, ExpFn e) {
  Fp table[16];
  table[0] = Fp::one();
  table[1] = x;
  for (int i = 2; i < 16; ++i) table[i] = table[i - 1] * x;
  Fp acc = Fp::one();
  bool started = false;
  for (int limb = 11; limb >= 0; --limb) {
    uint32_t w = e(limb);
    for (int s = 28; s >= 0; s -= 4) {
      if (started) acc = acc.sqr().sqr().sqr().sqr();
      uint32_t d = (w >> s) & 15;
      if (d) {
        acc = started ? acc * table[d] : table[d];
        started = true;
      }
    }
  }
  return acc;
}

// sqrt(x) candidate x^((p+1)/4); a root exactly when its square is x.
ZK_HD Fp fp_sqrt_candidate(const Fp& x) {
  return fp_pow_window(x, [](int i) { return consts::fp_sqrt_exp(i); });
}

}  // namespace zk
