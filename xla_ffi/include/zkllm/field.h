#pragma once
// Prime fields in Montgomery form, one implementation for the host and the device.
//
// Storage is always N little-endian 32-bit limbs (the layout of uint32[..., N] arrays in JAX).
// Arithmetic runs on 32-bit limbs on the device, where the integer units are 32-bit wide, and on
// 64-bit limbs with 128-bit products on the host, which is ~3x faster there. Both paths compute
// the same canonical Montgomery representative, so device results are checked bit for bit
// against host results.
#include <cstdint>

#include "zkllm/constants.h"
#include "zkllm/macros.h"

namespace zk {

namespace detail {

#if !ZK_DEVICE_PASS
using u128 = unsigned __int128;

template <int N>  // N 64-bit limbs
inline bool geq64(const uint64_t* a, const uint64_t* m) {
  ZK_UNROLL
  for (int i = N - 1; i >= 0; --i) {
    if (a[i] != m[i]) return a[i] > m[i];
  }
  return true;
}

template <int N>
inline uint64_t sub64(uint64_t* r, const uint64_t* a, const uint64_t* b) {
  uint64_t borrow = 0;
  ZK_UNROLL
  for (int i = 0; i < N; ++i) {
    u128 d = (u128)a[i] - b[i] - borrow;
    r[i] = (uint64_t)d;
    borrow = (uint64_t)(d >> 64) & 1;
  }
  return borrow;
}

template <int N>
inline uint64_t add64(uint64_t* r, const uint64_t* a, const uint64_t* b) {
  uint64_t carry = 0;
  ZK_UNROLL
  for (int i = 0; i < N; ++i) {
    u128 s = (u128)a[i] + b[i] + carry;
    r[i] = (uint64_t)s;
    carry = (uint64_t)(s >> 64);
  }
  return carry;
}

// CIOS Montgomery multiplication; requires the modulus' top limb to leave one spare bit, which
// holds for both BLS12-381 moduli, so the running sum fits in N+1 limbs.
template <int N>
inline void mont_mul64(uint64_t* r, const uint64_t* a, const uint64_t* b, const uint64_t* m,
                       uint64_t inv) {
  uint64_t t[N + 1] = {0};
  ZK_UNROLL
  for (int i = 0; i < N; ++i) {
    u128 c = 0;
    ZK_UNROLL
    for (int j = 0; j < N; ++j) {
      c += (u128)a[j] * b[i] + t[j];
      t[j] = (uint64_t)c;
      c >>= 64;
    }
    uint64_t top = t[N] + (uint64_t)c;
    uint64_t q = t[0] * inv;
    c = (u128)q * m[0] + t[0];
    c >>= 64;
    ZK_UNROLL
    for (int j = 1; j < N; ++j) {
      c += (u128)q * m[j] + t[j];
      t[j - 1] = (uint64_t)c;
      c >>= 64;
    }
    c += top;
    t[N - 1] = (uint64_t)c;
    t[N] = (uint64_t)(c >> 64);
  }
  if (t[N] || geq64<N>(t, m)) sub64<N>(t, t, m);
  ZK_UNROLL
  for (int i = 0; i < N; ++i) r[i] = t[i];
}
#endif

template <int N>  // N 32-bit limbs
ZK_HD bool geq32(const uint32_t* a, const uint32_t* m) {
  ZK_UNROLL
  for (int i = N - 1; i >= 0; --i) {
    if (a[i] != m[i]) return a[i] > m[i];
  }
  return true;
}

template <int N>
ZK_HD uint32_t sub32(uint32_t* r, const uint32_t* a, const uint32_t* b) {
  uint32_t borrow = 0;
  ZK_UNROLL
  for (int i = 0; i < N; ++i) {
    uint64_t d = (uint64_t)a[i] - b[i] - borrow;
    r[i] = (uint32_t)d;
    borrow = (uint32_t)(d >> 32) & 1;
  }
  return borrow;
}

template <int N>
ZK_HD uint32_t add32(uint32_t* r, const uint32_t* a, const uint32_t* b) {
  uint32_t carry = 0;
  ZK_UNROLL
  for (int i = 0; i < N; ++i) {
    uint64_t s = (uint64_t)a[i] + b[i] + carry;
    r[i] = (uint32_t)s;
    carry = (uint32_t)(s >> 32);
  }
  return carry;
}

template <int N>
ZK_HD void mont_mul32(uint32_t* r, const uint32_t* a, const uint32_t* b, const uint32_t* m,
                      uint32_t inv) {
  uint32_t t[N + 1];
  ZK_UNROLL
  for (int i = 0; i <= N; ++i) t[i] = 0;
  ZK_UNROLL
  for (int i = 0; i < N; ++i) {
    uint64_t c = 0;
    ZK_UNROLL
    for (int j = 0; j < N; ++j) {
      c += (uint64_t)a[j] * b[i] + t[j];
      t[j] = (uint32_t)c;
      c >>= 32;
    }
    uint32_t top = t[N] + (uint32_t)c;
    uint32_t q = t[0] * inv;
    c = (uint64_t)q * m[0] + t[0];
    c >>= 32;
    ZK_UNROLL
    for (int j = 1; j < N; ++j) {
      c += (uint64_t)q * m[j] + t[j];
      t[j - 1] = (uint32_t)c;
      c >>= 32;
    }
    c += top;
    t[N - 1] = (uint32_t)c;
    t[N] = (uint32_t)(c >> 32);
  }
  if (t[N] || geq32<N>(t, m)) sub32<N>(t, t, m);
  ZK_UNROLL
  for (int i = 0; i < N; ++i) r[i] = t[i];
}

// --- carry-chain arithmetic (the device path) ------------------------------------------------
//
// The algorithms below are written against a carry-flag interface `C` so that the exact sequence
// the device runs (PtxChain: PTX add.cc / madc.hi.cc, which ptxas maps onto IMAD/IADD3 with
// carry predicates) can also run on the host with an emulated flag (EmuChain) and be checked
// bit for bit against mont_mul64 (tests/native/msm_pipeline_emulation.cc). Each function computes
// exactly what the portable code above computes, for every input: the same CIOS quotient digits,
// the same single conditional subtraction, so results stay the canonical representative.
#if ZK_DEVICE_PASS
struct PtxChain {
  // asm volatile keeps the statements in program order: the carry flag between them is invisible
  // to the compiler, and nothing else in these chains writes it.
#define ZK_PTX3(name, op)                                                             \
  __device__ __forceinline__ uint32_t name(uint32_t a, uint32_t b, uint32_t c) {      \
    uint32_t r;                                                                       \
    asm volatile(op " %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(c));           \
    return r;                                                                         \
  }
#define ZK_PTX2(name, op)                                                             \
  __device__ __forceinline__ uint32_t name(uint32_t a, uint32_t b) {                  \
    uint32_t r;                                                                       \
    asm volatile(op " %0, %1, %2;" : "=r"(r) : "r"(a), "r"(b));                      \
    return r;                                                                         \
  }
  ZK_PTX3(mad_lo_cc, "mad.lo.cc.u32")
  ZK_PTX3(madc_lo_cc, "madc.lo.cc.u32")
  ZK_PTX3(madc_hi_cc, "madc.hi.cc.u32")
  ZK_PTX2(add_cc, "add.cc.u32")
  ZK_PTX2(addc_cc, "addc.cc.u32")
  ZK_PTX2(addc, "addc.u32")
  ZK_PTX2(sub_cc, "sub.cc.u32")
  ZK_PTX2(subc_cc, "subc.cc.u32")
  ZK_PTX2(subc, "subc.u32")
#undef ZK_PTX3
#undef ZK_PTX2
};
#else
// The same interface with the flag in a member, for host checks of the device algorithms.
struct EmuChain {
  uint32_t cf = 0;
  uint32_t set(uint64_t s) {
    cf = (uint32_t)(s >> 32) & 1;
    return (uint32_t)s;
  }
  uint32_t mad_lo_cc(uint32_t a, uint32_t b, uint32_t c) { return set((uint64_t)(a * b) + c); }
  uint32_t madc_lo_cc(uint32_t a, uint32_t b, uint32_t c) {
    return set((uint64_t)(a * b) + c + cf);
  }
  uint32_t madc_hi_cc(uint32_t a, uint32_t b, uint32_t c) {
    return set((((uint64_t)a * b) >> 32) + c + cf);
  }
  uint32_t add_cc(uint32_t a, uint32_t b) { return set((uint64_t)a + b); }
  uint32_t addc_cc(uint32_t a, uint32_t b) { return set((uint64_t)a + b + cf); }
  uint32_t addc(uint32_t a, uint32_t b) { return a + b + cf; }
  uint32_t sub_cc(uint32_t a, uint32_t b) { return set((uint64_t)a - b); }
  uint32_t subc_cc(uint32_t a, uint32_t b) { return set((uint64_t)a - b - cf); }
  uint32_t subc(uint32_t a, uint32_t b) { return a - b - cf; }
};
#endif

// r = a + b, minus m when the sum is >= m (the add32/geq32/sub32 sequence, without branches).
template <int N, class C>
ZK_HD void add_mod_cc(uint32_t* r, const uint32_t* a, const uint32_t* b, const uint32_t* m,
                      C& o) {
  uint32_t s[N], d[N];
  s[0] = o.add_cc(a[0], b[0]);
  ZK_UNROLL
  for (int i = 1; i < N; ++i) s[i] = o.addc_cc(a[i], b[i]);
  const uint32_t carry = o.addc(0u, 0u);
  d[0] = o.sub_cc(s[0], m[0]);
  ZK_UNROLL
  for (int i = 1; i < N; ++i) d[i] = o.subc_cc(s[i], m[i]);
  const bool below = o.subc(carry, 0u) == 0xffffffffu;  // no carry and a borrow: s < m
  ZK_UNROLL
  for (int i = 0; i < N; ++i) r[i] = below ? s[i] : d[i];
}

// r = a - b, plus m when that borrows (the sub32/add32 sequence, without branches).
template <int N, class C>
ZK_HD void sub_mod_cc(uint32_t* r, const uint32_t* a, const uint32_t* b, const uint32_t* m,
                      C& o) {
  uint32_t d[N];
  d[0] = o.sub_cc(a[0], b[0]);
  ZK_UNROLL
  for (int i = 1; i < N; ++i) d[i] = o.subc_cc(a[i], b[i]);
  const uint32_t mask = o.subc(0u, 0u);  // all ones after a borrow
  r[0] = o.add_cc(d[0], m[0] & mask);
  ZK_UNROLL
  for (int i = 1; i < N - 1; ++i) r[i] = o.addc_cc(d[i], m[i] & mask);
  r[N - 1] = o.addc(d[N - 1], m[N - 1] & mask);
}

// t[0..N+1] += x · y for one limb y: the products of even limbs j land on (t_j, t_{j+1}) and
// form one carry chain, those of odd limbs another, so every product is one mad instruction.
template <int N, class C>
ZK_HD void mul_limb_acc_cc(uint32_t* t, const uint32_t* x, uint32_t y, C& o) {
  t[0] = o.mad_lo_cc(x[0], y, t[0]);
  t[1] = o.madc_hi_cc(x[0], y, t[1]);
  ZK_UNROLL
  for (int j = 2; j < N; j += 2) {
    t[j] = o.madc_lo_cc(x[j], y, t[j]);
    t[j + 1] = o.madc_hi_cc(x[j], y, t[j + 1]);
  }
  t[N] = o.addc_cc(t[N], 0u);
  t[N + 1] = o.addc(t[N + 1], 0u);
  t[1] = o.mad_lo_cc(x[1], y, t[1]);
  t[2] = o.madc_hi_cc(x[1], y, t[2]);
  ZK_UNROLL
  for (int j = 3; j < N; j += 2) {
    t[j] = o.madc_lo_cc(x[j], y, t[j]);
    t[j + 1] = o.madc_hi_cc(x[j], y, t[j + 1]);
  }
  t[N + 1] = o.addc(t[N + 1], 0u);
}

// CIOS Montgomery product, the same quotient digits and final subtraction as mont_mul32 (so the
// same result for every a < 2^(32N), b < m); N even. The running value stays below R + m, so
// N + 2 words always hold it, whatever spare bits the modulus leaves.
template <int N, class C>
ZK_HD void mont_mul_cc(uint32_t* r, const uint32_t* a, const uint32_t* b, const uint32_t* m,
                       uint32_t inv, C& o) {
  static_assert(N % 2 == 0, "even limb count");
  uint32_t t[N + 2];
  ZK_UNROLL
  for (int i = 0; i < N + 2; ++i) t[i] = 0;
  ZK_UNROLL
  for (int i = 0; i < N; ++i) {
    mul_limb_acc_cc<N>(t, a, b[i], o);
    const uint32_t q = t[0] * inv;
    mul_limb_acc_cc<N>(t, m, q, o);  // t[0] becomes 0
    ZK_UNROLL
    for (int j = 0; j < N + 1; ++j) t[j] = t[j + 1];
    t[N + 1] = 0;
  }
  uint32_t d[N];
  d[0] = o.sub_cc(t[0], m[0]);
  ZK_UNROLL
  for (int i = 1; i < N; ++i) d[i] = o.subc_cc(t[i], m[i]);
  const bool below = o.subc(t[N], 0u) == 0xffffffffu;  // t < m (t < 2m, so t[N] <= 1)
  ZK_UNROLL
  for (int i = 0; i < N; ++i) r[i] = below ? t[i] : d[i];
}

}  // namespace detail

// A prime field element in Montgomery form. P supplies the constants (see FrParams, FpParams).
template <class P>
struct Field {
  static constexpr int N = P::N;  // 32-bit limbs
  uint32_t v[N];

#if !ZK_DEVICE_PASS
  static inline void to64(uint64_t* o, const uint32_t* x) {
    ZK_UNROLL
    for (int i = 0; i < N / 2; ++i) o[i] = x[2 * i] | ((uint64_t)x[2 * i + 1] << 32);
  }
  static inline void from64(uint32_t* o, const uint64_t* x) {
    ZK_UNROLL
    for (int i = 0; i < N / 2; ++i) {
      o[2 * i] = (uint32_t)x[i];
      o[2 * i + 1] = (uint32_t)(x[i] >> 32);
    }
  }
  static inline void mod64(uint64_t* o) {
    ZK_UNROLL
    for (int i = 0; i < N / 2; ++i) o[i] = P::mod(2 * i) | ((uint64_t)P::mod(2 * i + 1) << 32);
  }
#endif

  ZK_HD static Field zero() {
    Field r;
    ZK_UNROLL
    for (int i = 0; i < N; ++i) r.v[i] = 0;
    return r;
  }
  ZK_HD static Field one() {
    Field r;
    ZK_UNROLL
    for (int i = 0; i < N; ++i) r.v[i] = P::one(i);
    return r;
  }
  ZK_HD static Field modulus_limbs() {  // the modulus itself, not a field element
    Field r;
    ZK_UNROLL
    for (int i = 0; i < N; ++i) r.v[i] = P::mod(i);
    return r;
  }
  ZK_HD static Field load(const uint32_t* p) {
    Field r;
    ZK_UNROLL
    for (int i = 0; i < N; ++i) r.v[i] = p[i];
    return r;
  }
  ZK_HD void store(uint32_t* p) const {
    ZK_UNROLL
    for (int i = 0; i < N; ++i) p[i] = v[i];
  }

  ZK_HD bool is_zero() const {
    uint32_t acc = 0;
    ZK_UNROLL
    for (int i = 0; i < N; ++i) acc |= v[i];
    return acc == 0;
  }
  ZK_HD bool operator==(const Field& o) const {
    uint32_t acc = 0;
    ZK_UNROLL
    for (int i = 0; i < N; ++i) acc |= v[i] ^ o.v[i];
    return acc == 0;
  }
  ZK_HD bool operator!=(const Field& o) const { return !(*this == o); }

  // True when the limbs, read as an integer, are below the modulus.
  ZK_HD bool is_canonical() const {
    Field m = modulus_limbs();
    return !detail::geq32<N>(v, m.v);
  }

  ZK_HD Field operator+(const Field& b) const {
    Field r;
#if ZK_DEVICE_PASS
    Field m = modulus_limbs();
    detail::PtxChain o;
    detail::add_mod_cc<N>(r.v, v, b.v, m.v, o);
#else
    uint64_t a64[N / 2], b64[N / 2], m64[N / 2], r64[N / 2];
    to64(a64, v);
    to64(b64, b.v);
    mod64(m64);
    uint64_t c = detail::add64<N / 2>(r64, a64, b64);
    if (c || detail::geq64<N / 2>(r64, m64)) detail::sub64<N / 2>(r64, r64, m64);
    from64(r.v, r64);
#endif
    return r;
  }
  ZK_HD Field operator-(const Field& b) const {
    Field r;
#if ZK_DEVICE_PASS
    Field m = modulus_limbs();
    detail::PtxChain o;
    detail::sub_mod_cc<N>(r.v, v, b.v, m.v, o);
#else
    uint64_t a64[N / 2], b64[N / 2], m64[N / 2], r64[N / 2];
    to64(a64, v);
    to64(b64, b.v);
    mod64(m64);
    if (detail::sub64<N / 2>(r64, a64, b64)) detail::add64<N / 2>(r64, r64, m64);
    from64(r.v, r64);
#endif
    return r;
  }
  ZK_HD Field operator-() const { return zero() - *this; }
  ZK_HD Field dbl() const { return *this + *this; }

  ZK_HD Field operator*(const Field& b) const {
    Field r;
#if ZK_DEVICE_PASS
    Field m = modulus_limbs();
    detail::PtxChain o;
    detail::mont_mul_cc<N>(r.v, v, b.v, m.v, P::inv32, o);
#else
    uint64_t a64[N / 2], b64[N / 2], m64[N / 2], r64[N / 2];
    to64(a64, v);
    to64(b64, b.v);
    mod64(m64);
    detail::mont_mul64<N / 2>(r64, a64, b64, m64, P::inv64);
    from64(r.v, r64);
#endif
    return r;
  }
  ZK_HD Field& operator+=(const Field& b) { return *this = *this + b; }
  ZK_HD Field& operator-=(const Field& b) { return *this = *this - b; }
  ZK_HD Field& operator*=(const Field& b) { return *this = *this * b; }
  ZK_HD Field sqr() const { return *this * *this; }

  // x^e for an exponent of `nlimbs` little-endian 32-bit limbs (a plain integer).
  ZK_HD Field pow_limbs(const uint32_t* e, int nlimbs) const {
    Field acc = one();
    for (int i = nlimbs - 1; i >= 0; --i) {
      for (int b = 31; b >= 0; --b) {
        acc = acc.sqr();
        if ((e[i] >> b) & 1) acc = acc * *this;
      }
    }
    return acc;
  }
  template <class ExpFn>
  ZK_HD Field pow_const(ExpFn e) const {  // e(i) gives limb i of an N-limb constant exponent
    uint32_t ex[N];
    ZK_UNROLL
    for (int i = 0; i < N; ++i) ex[i] = e(i);
    return pow_limbs(ex, N);
  }
  ZK_HD Field pow_u64(uint64_t e) const {
    uint32_t ex[2] = {(uint32_t)e, (uint32_t)(e >> 32)};
    return pow_limbs(ex, 2);
  }
  // Fermat inversion; 0 maps to 0. Use batch inversion in hot paths.
  ZK_HD Field inv() const { return pow_const([](int i) { return P::inv_exp(i); }); }

  // Montgomery conversions: `from_canonical` takes limbs of an integer < m.
  ZK_HD static Field from_canonical(const Field& x) {
    Field r2;
    ZK_UNROLL
    for (int i = 0; i < N; ++i) r2.v[i] = P::r2(i);
    return x * r2;
  }
  ZK_HD Field to_canonical() const {
    Field o = zero();
    o.v[0] = 1;
    return *this * o;
  }
  ZK_HD static Field from_u64(uint64_t x) {
    Field r = zero();
    r.v[0] = (uint32_t)x;
    r.v[1] = (uint32_t)(x >> 32);
    return from_canonical(r);
  }
  // Any 2N-limb little-endian integer, reduced mod m: lo + hi * 2^(32N), each half through
  // Montgomery (lo * R^2 * R^-1 = lo R; hi * R^3 * R^-1 = hi R^2 ≡ hi 2^(32N) in Montgomery form).
  // Inputs wider than the modulus are first reduced by the multiplication itself, which accepts
  // operands below 2^(32N) (CIOS output < 2m before the final subtraction).
  ZK_HD static Field from_wide(const uint32_t* w) {
    Field lo = load(w), hi = load(w + N), r2, r3;
    ZK_UNROLL
    for (int i = 0; i < N; ++i) {
      r2.v[i] = P::r2(i);
      r3.v[i] = P::r3(i);
    }
    return lo * r2 + hi * r3;
  }
};

struct FrParams {
  static constexpr int N = 8;
  static constexpr uint32_t inv32 = consts::fr_inv32;
  static constexpr uint64_t inv64 = consts::fr_inv64;
  ZK_HD static constexpr uint32_t mod(int i) { return consts::fr_mod(i); }
  ZK_HD static constexpr uint32_t one(int i) { return consts::fr_one(i); }
  ZK_HD static constexpr uint32_t r2(int i) { return consts::fr_r2(i); }
  ZK_HD static constexpr uint32_t r3(int i) { return consts::fr_r3(i); }
  ZK_HD static constexpr uint32_t inv_exp(int i) { return consts::fr_inv_exp(i); }
};

struct FpParams {
  static constexpr int N = 12;
  static constexpr uint32_t inv32 = consts::fp_inv32;
  static constexpr uint64_t inv64 = consts::fp_inv64;
  ZK_HD static constexpr uint32_t mod(int i) { return consts::fp_mod(i); }
  ZK_HD static constexpr uint32_t one(int i) { return consts::fp_one(i); }
  ZK_HD static constexpr uint32_t r2(int i) { return consts::fp_r2(i); }
  ZK_HD static constexpr uint32_t r3(int i) { return consts::fp_r3(i); }
  ZK_HD static constexpr uint32_t inv_exp(int i) { return consts::fp_inv_exp(i); }
};

using Fr = Field<FrParams>;
using Fp = Field<FpParams>;

// A signed 32-bit integer (given as its bit pattern) in Montgomery form; negatives to r − |x|.
ZK_HD Fr fr_from_i32(uint32_t bits) {
  const int32_t x = (int32_t)bits;
  const uint64_t mag = x < 0 ? (uint64_t)(-(int64_t)x) : (uint64_t)x;
  const Fr r = Fr::from_u64(mag);
  return x < 0 ? -r : r;
}

}  // namespace zk
