#pragma once
// Per-element operations shared by the CPU and CUDA handlers. Each functor states the width of
// one element of each operand in 32-bit words and applies the operation to one element, so the
// two back ends differ only in how they iterate.
#include "zkllm/compress.h"
#include "zkllm/g1.h"

namespace zk::ops {

constexpr int kFr = 8;   // words per Fr element
constexpr int kG1 = 36;  // words per Jacobian G1 point

struct FrAdd {
  static constexpr int A = kFr, B = kFr, O = kFr;
  ZK_HD static void apply(const uint32_t* a, const uint32_t* b, uint32_t* o) {
    (Fr::load(a) + Fr::load(b)).store(o);
  }
};
struct FrSub {
  static constexpr int A = kFr, B = kFr, O = kFr;
  ZK_HD static void apply(const uint32_t* a, const uint32_t* b, uint32_t* o) {
    (Fr::load(a) - Fr::load(b)).store(o);
  }
};
struct FrMul {
  static constexpr int A = kFr, B = kFr, O = kFr;
  ZK_HD static void apply(const uint32_t* a, const uint32_t* b, uint32_t* o) {
    (Fr::load(a) * Fr::load(b)).store(o);
  }
};
// x^e with e given as a canonical integer of 8 limbs.
struct FrPow {
  static constexpr int A = kFr, B = kFr, O = kFr;
  ZK_HD static void apply(const uint32_t* a, const uint32_t* e, uint32_t* o) {
    Fr::load(a).pow_limbs(e, 8).store(o);
  }
};
struct FrNeg {
  static constexpr int A = kFr, O = kFr;
  ZK_HD static void apply(const uint32_t* a, uint32_t* o) { (-Fr::load(a)).store(o); }
};
struct FrToMont {
  static constexpr int A = kFr, O = kFr;
  ZK_HD static void apply(const uint32_t* a, uint32_t* o) {
    Fr::from_canonical(Fr::load(a)).store(o);
  }
};
struct FrFromMont {
  static constexpr int A = kFr, O = kFr;
  ZK_HD static void apply(const uint32_t* a, uint32_t* o) { Fr::load(a).to_canonical().store(o); }
};
// A 512-bit little-endian integer reduced mod r (uniform sampling, transcript challenges).
struct FrFromWide {
  static constexpr int A = 16, O = kFr;
  ZK_HD static void apply(const uint32_t* a, uint32_t* o) { Fr::from_wide(a).store(o); }
};
// A signed 32-bit integer (given as its bit pattern) into Montgomery form; negatives to r - |x|.
struct FrFromI32 {
  static constexpr int A = 1, O = kFr;
  ZK_HD static void apply(const uint32_t* a, uint32_t* o) { fr_from_i32(a[0]).store(o); }
};

struct G1Add {
  static constexpr int A = kG1, B = kG1, O = kG1;
  ZK_HD static void apply(const uint32_t* a, const uint32_t* b, uint32_t* o) {
    (G1::load(a) + G1::load(b)).store(o);
  }
};
struct G1Double {
  static constexpr int A = kG1, O = kG1;
  ZK_HD static void apply(const uint32_t* a, uint32_t* o) { G1::load(a).dbl().store(o); }
};
struct G1Neg {
  static constexpr int A = kG1, O = kG1;
  ZK_HD static void apply(const uint32_t* a, uint32_t* o) { (-G1::load(a)).store(o); }
};
// Scalar given in Montgomery form, as every Fr array in the library is.
struct G1ScalarMul {
  static constexpr int A = kG1, B = kFr, O = kG1;
  ZK_HD static void apply(const uint32_t* p, const uint32_t* k, uint32_t* o) {
    Fr c = Fr::load(k).to_canonical();
    G1::load(p).mul_limbs(c.v, 8).store(o);
  }
};
struct G1Eq {
  static constexpr int A = kG1, B = kG1, O = 1;
  ZK_HD static void apply(const uint32_t* a, const uint32_t* b, uint32_t* o) {
    o[0] = G1::load(a) == G1::load(b) ? 1u : 0u;
  }
};
// 0: valid; 1: a coordinate is not a canonical Fp element; 2: not on the curve;
// 3: on the curve but outside the prime-order subgroup.
struct G1Validate {
  static constexpr int A = kG1, O = 1;
  ZK_HD static void apply(const uint32_t* a, uint32_t* o) {
    G1 p = G1::load(a);
    if (!p.x.is_canonical() || !p.y.is_canonical() || !p.z.is_canonical()) {
      o[0] = 1;
    } else if (!p.on_curve()) {
      o[0] = 2;
    } else if (!in_subgroup_endo(p)) {  // 4x faster than r·P; tests cross-check both
      o[0] = 3;
    } else {
      o[0] = 0;
    }
  }
};

}  // namespace zk::ops
