#pragma once
// RFC 9380 hash_to_curve for the suite BLS12381G1_XMD:SHA-256_SSWU_RO_, host and device.
//
//   expand_message_xmd(msg, DST, 128)  -> 128 uniform bytes           (RFC 9380 5.3.1)
//   hash_to_field                      -> u0, u1 = two 64-byte big-endian chunks mod p (5.2)
//   map_to_curve_simple_swu(u_i)       -> a point of E': y^2 = x^3 + A'x + B' (6.6.2, F.2)
//   iso_map                            -> the 11-isogeny E' -> E (E.2)
//   clear_cofactor(Q0 + Q1)            -> multiplication by h_eff (8.8.1)
//
// No field inversion is needed: SSWU returns x as a fraction xn/xd, the isogeny is evaluated on
// that fraction in homogeneous form, and the result is assembled directly in Jacobian
// coordinates. Branches on data are plain `if`s (not constant time): the messages hashed here
// (generator indices, transcript tags) are public.
//
// The DST must be 1..255 bytes; longer tags are reduced by the caller per RFC 9380 5.3.3.
#include <cstddef>
#include <cstdint>

#include "zkllm/fp_sqrt.h"
#include "zkllm/g1.h"
#include "zkllm/sha256.h"

// The large steps stay out of line on the device: fully inlined, the kernel hits the 255-register
// cap and spills (ptxas -v, sm_90); out of line it fits in ~220 registers without spills.
#if defined(__CUDACC__)
#define ZK_H2C_STEP __host__ __device__ __noinline__
#else
#define ZK_H2C_STEP inline
#endif

namespace zk::h2c {

constexpr int kLenInBytes = 128;  // 2 field elements x (ceil((381 + 128) / 8) = 64) bytes

// expand_message_xmd with SHA-256 and len_in_bytes = 128 (ell = 4 blocks of 32 bytes).
ZK_H2C_STEP void expand_message_xmd(const uint8_t* msg, size_t len, const uint8_t* dst,
                                    int dst_len, uint8_t* out /* 128 bytes */) {
  const uint8_t dst_len_byte = (uint8_t)dst_len;
  uint8_t b0[32];
  {
    Sha256 s;
    uint8_t zpad[64];
    for (int i = 0; i < 64; ++i) zpad[i] = 0;
    s.update(zpad, 64);  // Z_pad: one block of zeros (s_in_bytes = 64)
    s.update(msg, len);
    const uint8_t tail[3] = {0x00, (uint8_t)kLenInBytes, 0x00};  // I2OSP(128, 2) || I2OSP(0, 1)
    s.update(tail, 3);
    s.update(dst, (size_t)dst_len);
    s.update_byte(dst_len_byte);
    s.final(b0);
  }
  uint8_t prev[32];
  for (int i = 0; i < 32; ++i) prev[i] = b0[i];
  for (int blk = 1; blk <= kLenInBytes / 32; ++blk) {
    uint8_t x[32];
    for (int i = 0; i < 32; ++i) x[i] = blk == 1 ? b0[i] : (uint8_t)(b0[i] ^ prev[i]);
    Sha256 s;
    s.update(x, 32);
    s.update_byte((uint8_t)blk);
    s.update(dst, (size_t)dst_len);
    s.update_byte(dst_len_byte);
    s.final(prev);
    for (int i = 0; i < 32; ++i) out[32 * (blk - 1) + i] = prev[i];
  }
}

// 64 big-endian bytes, reduced mod p, in Montgomery form.
ZK_HD Fp fp_from_be64(const uint8_t* b) {
  uint32_t w[24];
  for (int j = 0; j < 16; ++j) {
    const uint8_t* q = b + 64 - 4 * (j + 1);
    w[j] = ((uint32_t)q[0] << 24) | ((uint32_t)q[1] << 16) | ((uint32_t)q[2] << 8) | q[3];
  }
  for (int j = 16; j < 24; ++j) w[j] = 0;
  return Fp::from_wide(w);
}

// Table lookups of the generated constants, one spelling for host and device.
ZK_HD Fp sswu_const(int k) {
  Fp r;
  ZK_UNROLL
  for (int i = 0; i < 12; ++i) r.v[i] = consts::sswu(k, i);
  return r;
}

ZK_HD bool sgn0(const Fp& x) { return x.to_canonical().v[0] & 1; }

// RFC 9380 F.2.1.2, sqrt_ratio for q = 3 mod 4: (u/v is square, sqrt(u/v) or sqrt(Z u/v)).
ZK_H2C_STEP bool sqrt_ratio(const Fp& u, const Fp& v, Fp& y) {
  Fp tv1 = v.sqr();
  Fp tv2 = u * v;
  tv1 = tv1 * tv2;
  Fp y1 = fp_pow_window(tv1, [](int i) { return consts::fp_sqrt_ratio_exp(i); });
  y1 = y1 * tv2;
  Fp y2 = y1 * sswu_const(3);  // c2 = sqrt(-Z)
  Fp tv3 = y1.sqr() * v;
  bool is_qr = tv3 == u;
  y = is_qr ? y1 : y2;
  return is_qr;
}

// RFC 9380 F.2 (simplified SWU, straight-line) on E', leaving x as the fraction xn / xd.
ZK_H2C_STEP void map_to_curve_sswu(const Fp& u, Fp& xn, Fp& xd, Fp& y) {
  const Fp A = sswu_const(0), B = sswu_const(1), Z = sswu_const(2);
  Fp tv1 = Z * u.sqr();
  Fp tv2 = tv1.sqr() + tv1;
  Fp tv3 = B * (tv2 + Fp::one());
  Fp tv4 = A * (tv2.is_zero() ? Z : -tv2);
  Fp tv6 = tv4.sqr();
  Fp gx_num = (tv3.sqr() + A * tv6) * tv3 + B * (tv6 * tv4);  // (tv3^2 + A tv4^2) tv3 + B tv4^3
  Fp gx_den = tv6 * tv4;
  Fp y1;
  bool is_square = sqrt_ratio(gx_num, gx_den, y1);
  xn = is_square ? tv3 : tv1 * tv3;
  xd = tv4;
  y = is_square ? y1 : tv1 * u * y1;
  if (sgn0(u) != sgn0(y)) y = -y;
}

enum IsoPoly { kXNum, kXDen, kYNum, kYDen };

ZK_HD int iso_len(int poly) {
  switch (poly) {
    case kXNum: return consts::iso_xnum_len;
    case kXDen: return consts::iso_xden_len;
    case kYNum: return consts::iso_ynum_len;
    default: return consts::iso_yden_len;
  }
}

ZK_HD Fp iso_coef(int poly, int k) {
  Fp r;
  ZK_UNROLL
  for (int i = 0; i < 12; ++i) {
    switch (poly) {
      case kXNum: r.v[i] = consts::iso_xnum(k, i); break;
      case kXDen: r.v[i] = consts::iso_xden(k, i); break;
      case kYNum: r.v[i] = consts::iso_ynum(k, i); break;
      default: r.v[i] = consts::iso_yden(k, i); break;
    }
  }
  return r;
}

// Σ_k c_k xn^k xd^(deg-k) for the isogeny polynomial `poly` (deg = len - 1), by Horner.
ZK_HD Fp iso_homogeneous(int poly, const Fp& xn, const Fp* xd_pow) {
  int len = iso_len(poly);
  Fp acc = iso_coef(poly, len - 1);
  for (int k = len - 2; k >= 0; --k) acc = acc * xn + iso_coef(poly, k) * xd_pow[len - 1 - k];
  return acc;
}

// RFC 9380 E.2: the 11-isogeny E' -> E at (xn/xd, y), returned in Jacobian coordinates.
ZK_H2C_STEP G1 iso_map(const Fp& xn, const Fp& xd, const Fp& y) {
  Fp xd_pow[16];
  xd_pow[0] = Fp::one();
  for (int i = 1; i < 16; ++i) xd_pow[i] = xd_pow[i - 1] * xd;
  Fp XN = iso_homogeneous(kXNum, xn, xd_pow);
  Fp XD = iso_homogeneous(kXDen, xn, xd_pow);
  Fp YN = iso_homogeneous(kYNum, xn, xd_pow);
  Fp YD = iso_homogeneous(kYDen, xn, xd_pow);
  // x = xnum/xden = XN / (XD xd) (x_num has one degree more than x_den); y = y' YN / YD (the
  // xd^15 factors cancel). With x = N1/D1, y = N2/D2, the Jacobian point Z = D1 D2,
  // X = N1 D1 D2^2, Y = N2 D1^3 D2^2 has X/Z^2 = x and Y/Z^3 = y; a vanishing denominator
  // (the isogeny's kernel) gives Z = 0, the identity, as the RFC requires.
  Fp D1 = XD * xd, N1 = XN, N2 = y * YN, D2 = YD;
  Fp D2sq = D2.sqr(), D1sq = D1.sqr();
  G1 r;
  r.z = D1 * D2;
  r.x = N1 * D1 * D2sq;
  r.y = N2 * D1sq * D1 * D2sq;
  return r;
}

// Multiplication by h_eff = 1 - X (RFC 9380 8.8.1), which maps E(Fp) into the r-torsion.
ZK_H2C_STEP G1 clear_cofactor(const G1& p) {
  const uint32_t h[2] = {(uint32_t)consts::h_eff, (uint32_t)(consts::h_eff >> 32)};
  return p.mul_limbs(h, 2);
}

ZK_HD G1 hash_to_curve(const uint8_t* msg, size_t len, const uint8_t* dst, int dst_len) {
  uint8_t uniform[kLenInBytes];
  expand_message_xmd(msg, len, dst, dst_len, uniform);
  G1 q[2];
  for (int i = 0; i < 2; ++i) {
    Fp u = fp_from_be64(uniform + 64 * i);
    Fp xn, xd, y;
    map_to_curve_sswu(u, xn, xd, y);
    q[i] = iso_map(xn, xd, y);
  }
  return clear_cofactor(q[0] + q[1]);
}

}  // namespace zk::h2c
