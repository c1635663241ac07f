#pragma once
// The ZCash 48-byte encoding of G1 points (as in arkworks, blst, zkcrypto, py_ecc), and the
// endomorphism subgroup check used when decoding.
//
// Byte 0 carries three flags in its top bits: 0x80 compressed (always set here), 0x40 the point
// at infinity (every other bit zero), 0x20 the sign of y (set when y > (p-1)/2 as an integer).
// The remaining 381 bits are x, big-endian.
#include <cstdint>

#include "zkllm/fp_sqrt.h"
#include "zkllm/g1.h"

namespace zk {

// P ∈ G1 iff σ(P) = -X²·P, with σ(x, y) = (βx, y) (Scott, eprint 2021/1130, section 6; the
// check arkworks and blst use). Half the doublings of the r·P check.
ZK_HD bool in_subgroup_endo(const G1& p) {
  if (p.is_identity()) return true;
  uint32_t xsq[4];
  ZK_UNROLL
  for (int i = 0; i < 4; ++i) xsq[i] = consts::bls_x_sq(i);
  Fp beta;
  ZK_UNROLL
  for (int i = 0; i < 12; ++i) beta.v[i] = consts::g1_beta(0, i);
  G1 sigma{p.x * beta, p.y, p.z};  // (βX/Z², Y/Z³) in Jacobian form
  return sigma == -p.mul_limbs(xsq, 4);
}

namespace zcash {

constexpr uint8_t kCompressed = 0x80, kInfinity = 0x40, kSign = 0x20;

// Decoding outcome codes; they are part of the Python API (curve.from_compressed_with_status).
enum Status : uint32_t {
  kOk = 0,
  kBadFlags = 1,      // compression flag missing, or an infinity encoding with other bits set
  kNotCanonical = 2,  // x >= p
  kNotOnCurve = 3,    // x^3 + 4 is not a square
  kNotInSubgroup = 4,
};

// True when y, as an integer, exceeds (p-1)/2 (the lexicographically largest of ±y).
ZK_HD bool y_is_large(const Fp& y_mont) {
  Fp y = y_mont.to_canonical();
  Fp half;
  ZK_UNROLL
  for (int i = 0; i < 12; ++i) half.v[i] = consts::fp_half(i);
  return !detail::geq32<12>(half.v, y.v);  // y > half
}

ZK_HD void store_be(const Fp& canonical, uint8_t* out) {
  ZK_UNROLL
  for (int k = 0; k < 48; ++k) out[k] = (uint8_t)(canonical.v[11 - k / 4] >> (8 * (3 - k % 4)));
}

ZK_HD Fp load_be(const uint8_t* in) {  // plain integer limbs, not reduced
  Fp r;
  ZK_UNROLL
  for (int j = 0; j < 12; ++j) {
    const uint8_t* q = in + 44 - 4 * j;
    r.v[j] = ((uint32_t)q[0] << 24) | ((uint32_t)q[1] << 16) | ((uint32_t)q[2] << 8) | q[3];
  }
  return r;
}

ZK_HD void compress(const G1Affine& a, uint8_t* out /* 48 bytes */) {
  if (a.inf) {
    out[0] = kCompressed | kInfinity;
    for (int k = 1; k < 48; ++k) out[k] = 0;
    return;
  }
  store_be(a.x.to_canonical(), out);
  out[0] |= kCompressed | (y_is_large(a.y) ? kSign : 0);
}

// Decodes and validates one encoding; on failure `out` is the identity.
ZK_HD uint32_t decompress(const uint8_t* in, G1& out) {
  out = G1::identity();
  const uint8_t flags = in[0] & 0xe0;
  if (!(flags & kCompressed)) return kBadFlags;
  if (flags & kInfinity) {
    uint8_t rest = (uint8_t)(in[0] & 0x3f);  // sign flag and x bits must all be zero
    for (int k = 1; k < 48; ++k) rest |= in[k];
    return rest ? kBadFlags : kOk;
  }
  uint8_t xb[48];
  for (int k = 0; k < 48; ++k) xb[k] = in[k];
  xb[0] &= 0x1f;
  Fp x = load_be(xb);
  if (!x.is_canonical()) return kNotCanonical;
  x = Fp::from_canonical(x);
  Fp b;
  ZK_UNROLL
  for (int i = 0; i < 12; ++i) b.v[i] = consts::sswu(4, i);
  Fp rhs = x.sqr() * x + b;
  Fp y = fp_sqrt_candidate(rhs);
  if (y.sqr() != rhs) return kNotOnCurve;
  if (y_is_large(y) != ((flags & kSign) != 0)) y = -y;
  G1 p{x, y, Fp::one()};
  if (!in_subgroup_endo(p)) return kNotInSubgroup;
  out = p;
  return kOk;
}

}  // namespace zcash
}  // namespace zk
