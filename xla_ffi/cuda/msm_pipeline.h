#pragma once
// The GPU multi-scalar multiplication as a sequence of data-parallel steps.
//
// Each step is a functor whose operator()(i) is the work of one thread; an executor runs it over
// i in [0, count). msm_cuda.cu runs the steps as CUDA kernels on XLA's stream; a host executor
// runs the same functors in a loop (tests/native/msm_pipeline_emulation.cc), so the indexing is
// checked on machines without a GPU. Plain C++ only here: no CUDA syntax.
//
// Algorithm (Pippenger, signed windows of c bits, 2^(c-1) buckets per window), for a group of
// rows of a batched MSM at once:
//  1. points to affine with one Fermat inversion per thread (Montgomery's trick over a strided
//     subset); Z = 1 points are copied, identities become (0, 0), which is not on the curve;
//  2. signed digits: one (key, point reference) pair per (row, scalar, window), key = bucket
//     index, zero digits get the sentinel key; the sign of the digit (and of an int32 scalar) is
//     bit 31 of the reference;
//  3. radix sort of the pairs by key (CUB on the device);
//  4. bucket accumulation: each thread adds a fixed chunk of sorted pairs into XYZZ sums, mixed
//     affine additions. A bucket wholly inside one chunk is written directly; the pieces of a
//     bucket that spans chunks go to two slots per chunk and are reduced again by the same
//     scheme until one chunk remains, so a huge bucket (all scalars equal) costs log depth;
//  5. bucket reduction per window, Σ_i (i+1)·b_i: T threads per window run the running-sum
//     trick over L = B/T buckets each, giving A_s = Σ_u (u+1) b_{sL+u} and R_s = Σ_u b_{sL+u};
//     the window sum is Σ_s A_s + L·Σ_s s·R_s, and Σ_s s·R_s = Σ_j 2^j·(Σ_{s: bit j of s} R_s),
//     so everything left is plain sums (tree passes of fan-in kFanIn) and log2(B) doublings;
//  6. windows combined by Horner per row, written as Jacobian points.
//
// GLV. With shared points and Fr scalars (every MSM of the prover but vmapped ones) each scalar
// k is split as k = k1 + λ·k2, 0 <= k1 < λ, k2 = floor(k/λ) < 2^128, and the MSM runs over 2n
// terms: k1 with P_i and k2 with φ(P_i) = (β·x_i, y_i), which is λ·P_i on the prime-order
// subgroup (λ = z² − 1, z the BLS parameter; β a cube root of unity in Fp). Windows cover 129
// bits instead of 256: the same number of digit entries, half the windows, and half the serial
// doublings of step 6, the step that bounds a small MSM's latency (one thread doubling through
// every window: ~6.5 of 9 ms at n = 32 on an H100 before). Every point that reaches an MSM is in
// the subgroup (hash-to-curve clears the cofactor; proofs and commitment files are parsed with a
// subgroup check), where φ = λ; the CPU handlers do not use the endomorphism.
#include <cstddef>
#include <cstdint>

#include "zkllm/g1.h"

namespace zk::msm {

constexpr uint32_t kNegBit = 0x80000000u;   // point reference: subtract the point
constexpr uint32_t kRealBit = 0x80000000u;  // slot key: the slot holds a real partial sum
constexpr uint32_t kKeyMask = 0x7fffffffu;
constexpr int kAffWords = 24;   // affine point: x, y (Montgomery); (0, 0) is the identity
constexpr int kXyzzWords = 48;  // XYZZ point: x, y, zz, zzz
constexpr int kJacWords = 36;
// Plain-sum tree passes. The reduction steps run one wave or less of threads, so their time is
// the latency of each thread's serial chain of additions: fan-in 4 gives chains of 4 (more, but
// cheap, launches) where 16 gave chains of 16.
constexpr uint32_t kFanIn = 4;

enum class ScalarKind { kFr, kI32 };

// λ = z² − 1 = 0xac45a4010001a40200000000ffffffff, little-endian 32-bit limbs.
ZK_HD uint32_t glv_lambda(int j) {
  return j == 0 ? 0xffffffffu : j == 1 ? 0u : j == 2 ? 0x0001a402u : 0xac45a401u;
}
// β with φ(x, y) = (β·x, y) = λ·(x, y) on the subgroup (the other nontrivial cube root gives λ²).
ZK_HD Fp glv_beta() {
  const uint32_t c[12] = {0x0000aaacu, 0x8bfd0000u, 0x4f49fffdu, 0x409427ebu,
                          0x0fb85f9bu, 0x897d2965u, 0x89759ad4u, 0xaa0d857du,
                          0x63d4de85u, 0xec024086u, 0x397fe699u, 0x1a0111eau};
  return Fp::from_canonical(Fp::load(c));
}
// k (canonical, < r < 2^255) = k1 + λ·k2 with 0 <= k1 < λ and k2 < 2^128 (λ >= 2^127), by
// restoring division one bit at a time: plainly correct, and a few thousand integer operations
// per scalar in a step that runs one thread per scalar.
ZK_HD void glv_split(const uint32_t* k, uint32_t* k1, uint32_t* k2) {
  uint32_t rem[5] = {0, 0, 0, 0, 0};
  for (int j = 0; j < 4; ++j) k2[j] = 0;
  for (int bit = 254; bit >= 0; --bit) {
    for (int j = 4; j > 0; --j) rem[j] = (rem[j] << 1) | (rem[j - 1] >> 31);
    rem[0] = (rem[0] << 1) | ((k[bit >> 5] >> (bit & 31)) & 1u);
    bool ge = rem[4] != 0;
    if (!ge) {
      ge = true;  // equal counts as >=
      for (int j = 3; j >= 0; --j) {
        if (rem[j] != glv_lambda(j)) {
          ge = rem[j] > glv_lambda(j);
          break;
        }
      }
    }
    if (ge) {
      uint32_t borrow = 0;
      for (int j = 0; j < 5; ++j) {
        const uint64_t d = (uint64_t)rem[j] - (j < 4 ? glv_lambda(j) : 0u) - borrow;
        rem[j] = (uint32_t)d;
        borrow = (uint32_t)(d >> 63);
      }
      k2[bit >> 5] |= 1u << (bit & 31);  // bit < 128: the quotient is below 2^128
    }
  }
  for (int j = 0; j < 4; ++j) k1[j] = rem[j];
}

// The curve operations the steps call, kept out of line on the device: every kernel would
// otherwise carry its own inlined copy of ~10k instructions, which multiplies compile time
// while the call costs only a few percent at run time.
#if defined(__CUDACC__)
#define ZK_OUTLINE static __host__ __device__ __noinline__
#else
#define ZK_OUTLINE static inline
#endif
ZK_OUTLINE G1XYZZ xyzz_add(const G1XYZZ& a, const G1XYZZ& b) { return a + b; }
ZK_OUTLINE G1XYZZ xyzz_add_affine(const G1XYZZ& a, const G1Affine& b) { return a.add_affine(b); }
ZK_OUTLINE G1XYZZ xyzz_dbl(const G1XYZZ& a) { return a.dbl(); }
ZK_OUTLINE Fp fp_inv(const Fp& a) { return a.inv(); }
ZK_OUTLINE G1 g1_add(const G1& a, const G1& b) { return a + b; }
ZK_OUTLINE G1 g1_dbl(const G1& a) { return a.dbl(); }
ZK_OUTLINE G1 xyzz_to_jacobian(const G1XYZZ& a) { return a.to_jacobian(); }

// --- point storage -------------------------------------------------------------------------

ZK_HD G1Affine load_affine(const uint32_t* p) {
  G1Affine a;
  a.x = Fp::load(p);
  a.y = Fp::load(p + 12);
  a.inf = a.x.is_zero() && a.y.is_zero();
  return a;
}
// The same load in 16-byte pieces: affine points start at multiples of 96 bytes of a 256-byte
// aligned buffer, so one point is six aligned 16-byte words.
struct alignas(16) Quad {
  uint32_t w[4];
};
ZK_HD G1Affine load_affine_vec(const uint32_t* p) {
#if !ZK_DEVICE_PASS
  return load_affine(p);  // the host emulation keeps plain word loads (no aliasing questions)
#else
  const Quad* q = reinterpret_cast<const Quad*>(p);
  G1Affine a;
  ZK_UNROLL
  for (int k = 0; k < 6; ++k) {
    const Quad v = q[k];
    ZK_UNROLL
    for (int j = 0; j < 4; ++j) {
      const int at = 4 * k + j;
      if (at < 12) {
        a.x.v[at] = v.w[j];
      } else {
        a.y.v[at - 12] = v.w[j];
      }
    }
  }
  a.inf = a.x.is_zero() && a.y.is_zero();
  return a;
#endif
}
ZK_HD G1XYZZ load_xyzz(const uint32_t* p) {
  return G1XYZZ{Fp::load(p), Fp::load(p + 12), Fp::load(p + 24), Fp::load(p + 36)};
}
ZK_HD void store_xyzz(uint32_t* p, const G1XYZZ& a) {
  a.x.store(p);
  a.y.store(p + 12);
  a.zz.store(p + 24);
  a.zzz.store(p + 36);
}
// All-zero words are the XYZZ identity (ZZ = 0), so a zero-filled buffer holds identities.
ZK_HD void store_xyzz_identity(uint32_t* p) {
  for (int i = 0; i < kXyzzWords; ++i) p[i] = 0;
}

ZK_HD uint32_t bits_at(const uint32_t* k, int nlimbs, int pos, int c) {
  int limb = pos >> 5, off = pos & 31;
  if (limb >= nlimbs) return 0;
  uint64_t w = k[limb];
  if (limb + 1 < nlimbs) w |= (uint64_t)k[limb + 1] << 32;
  return (uint32_t)(w >> off) & ((1u << c) - 1u);
}

// --- plan ----------------------------------------------------------------------------------

struct Plan {
  size_t m = 0, n = 0;     // MSMs (output rows), terms per MSM
  bool shared_points = false, shared_scalars = false;
  ScalarKind kind = ScalarKind::kFr;
  int i32_bits = 32;       // kind kI32: every |scalar| <= 2^(i32_bits - 1) (caller's bound)
  bool glv = false;        // Fr scalars over shared points: 2n terms of 129 bits (see GLV)
  int c = 0, W = 0;        // window bits, windows
  uint32_t B = 0;          // buckets per window, 2^(c-1)
  size_t group = 0;        // rows handled together
  int key_bits = 0;        // sort keys occupy bits [0, key_bits)
  uint32_t sentinel = 0;   // key of zero digits, (1 << key_bits) - 1, above every bucket
  size_t entries = 0;      // pairs per full group: group * terms() * W
  uint32_t K0 = 0, K1 = 0; // chunk sizes: first accumulation level, later levels
  uint32_t T = 0, logT = 0, logL = 0;  // bucket-reduction segments per window, log2 B/T
  uint32_t J = 0;          // plain sums per window: Σ A_s and one per bit of s
  uint32_t P1 = 0;         // parts per plain sum in the first pass

  size_t terms() const { return glv ? 2 * n : n; }  // per row, after the GLV split
  size_t windows() const { return group * (size_t)W; }
  size_t buckets() const { return windows() * B; }
  size_t affine_points() const { return shared_points ? terms() : group * n; }
  size_t slots_a() const { return 2 * ((entries + K0 - 1) / K0); }
  size_t slots_b() const { return 2 * ((slots_a() + K1 - 1) / K1); }
  size_t sums_a() const { return windows() * J * P1; }
  size_t sums_b() const { return windows() * J * ((P1 + kFanIn - 1) / kFanIn); }
};

inline int ceil_log2(uint64_t x) {  // smallest b with 2^b >= x
  int b = 0;
  while ((uint64_t{1} << b) < x) ++b;
  return b;
}

// Fills the fields that follow from m, n, kind, c, group, K0, K1 and T.
inline int scalar_bits(const Plan& p) {
  return p.glv ? 129 : p.kind == ScalarKind::kFr ? 256 : p.i32_bits;
}

inline void finish_plan(Plan& p) {
  const int bits = scalar_bits(p);
  p.W = (bits + p.c - 1) / p.c;
  p.B = 1u << (p.c - 1);
  p.entries = p.group * p.terms() * (size_t)p.W;
  p.key_bits = ceil_log2((uint64_t)p.buckets() + 1);
  p.sentinel = (uint32_t)((uint64_t{1} << p.key_bits) - 1);
  p.logT = (uint32_t)ceil_log2(p.T);
  p.logL = (uint32_t)(p.c - 1) - p.logT;
  p.J = 1 + p.logT;
  p.P1 = (p.T + kFanIn - 1) / kFanIn;
}

// Chooses the window size by a cost model (mixed additions n·W against ~3 full additions per
// bucket) and groups rows so that one group sorts at most ~2^25 pairs. Returns false when the
// MSM is too large for 31-bit indices.
//
// Magnitudes: canonical Fr < 2^255, GLV halves < 2^128, |int32| <= 2^(i32_bits-1) (2^31 for
// any int32). W windows of signed digits in [-2^(c-1), 2^(c-1)] cover magnitudes up to
// 2^(cW-1), so W = ceil(bits/c) with bits = 256, 129 or i32_bits and no carry leaves the top
// window. A smaller i32_bits (16-bit tensors: 17) means fewer windows, so fewer buckets to
// reduce per row and fewer pairs to sort.
inline bool make_plan(size_t m, size_t n, bool shared_points, bool shared_scalars,
                      ScalarKind kind, Plan& p, int i32_bits = 32) {
  p = Plan{};
  p.m = m;
  p.n = n;
  p.shared_points = shared_points;
  p.shared_scalars = shared_scalars;
  p.kind = kind;
  if (i32_bits < 2 || i32_bits > 32) return false;
  p.i32_bits = i32_bits;
  p.glv = kind == ScalarKind::kFr && shared_points;
  const int bits = scalar_bits(p);
  const size_t terms = p.terms();
  double best = 0;
  for (int c = 2; c <= 16; ++c) {
    int W = (bits + c - 1) / c;
    double cost = (double)terms * W + 3.0 * W * (double)(1u << (c - 1)) + 8.0 * W * c;
    if (p.c == 0 || cost < best) {
      best = cost;
      p.c = c;
    }
  }
  const int W = (bits + p.c - 1) / p.c;
  const uint64_t B = uint64_t{1} << (p.c - 1);
  const size_t per_row = terms * (size_t)W;
  if (n == 0 || per_row >= (size_t{1} << 31) || n >= (size_t{1} << 30)) return false;
  const size_t cap = size_t{1} << 25;
  size_t g = per_row >= cap ? 1 : cap / per_row;
  if (g > m) g = m;
  while (g > 1 && (g * per_row >= (size_t{1} << 31) || (uint64_t)g * W * B >= (uint64_t{1} << 30)))
    g /= 2;
  p.group = g;
  const size_t entries = g * per_row;
  p.K0 = entries >= (size_t{1} << 22) ? 64 : entries >= (size_t{1} << 16) ? 32 : 8;
  // Carry levels add slot pieces in serial chains of K1, log_{K1/2} levels deep: K1 = 4 halves
  // the total chain length of K1 = 16 (latency-bound, as few threads are left) for ~2x the
  // (small) work.
  p.K1 = 4;
  // About 2^15 threads for the running sums, each over L >= 1 buckets.
  uint32_t T = 1;
  while (T < B && (uint64_t)g * W * T * 2 <= (uint64_t{1} << 15)) T *= 2;
  p.T = T;
  finish_plan(p);
  return true;
}

// --- steps ---------------------------------------------------------------------------------

// Jacobian -> affine for `count` points, thread t taking points t, t + threads, ...; the x slot
// of the output holds the running prefix products until the backward pass overwrites it.
struct ToAffine {
  static constexpr const char* name = "msm: affine conversion";
  const uint32_t* jac;
  uint32_t* aff;
  size_t count, threads;
  ZK_HD void operator()(size_t t) const {
    if (t >= count) return;
    const Fp one = Fp::one();
    Fp acc = one;
    size_t cnt = (count - 1 - t) / threads + 1;
    for (size_t k = 0; k < cnt; ++k) {
      size_t i = t + k * threads;
      Fp z = Fp::load(jac + kJacWords * i + 24);
      if (!z.is_zero() && z != one) {
        acc.store(aff + kAffWords * i);
        acc = acc * z;
      }
    }
    Fp inv = acc == one ? one : fp_inv(acc);
    for (size_t k = cnt; k-- > 0;) {
      size_t i = t + k * threads;
      const uint32_t* p = jac + kJacWords * i;
      uint32_t* o = aff + kAffWords * i;
      Fp z = Fp::load(p + 24);
      if (z.is_zero()) {
        Fp::zero().store(o);
        Fp::zero().store(o + 12);
      } else if (z == one) {
        Fp::load(p).store(o);
        Fp::load(p + 12).store(o + 12);
      } else {
        Fp zi = inv * Fp::load(o);
        inv = inv * z;
        Fp zi2 = zi.sqr();
        (Fp::load(p) * zi2).store(o);
        (Fp::load(p + 12) * zi2 * zi).store(o + 12);
      }
    }
  }
};

// One thread per (local row, scalar): W (key, reference) pairs per term at
// e = (lr·W + w)·terms + term; with GLV a scalar gives two terms, i (k1 with P_i) and n + i
// (k2 with φ(P_i), stored at affine index n + i).
struct Digits {
  static constexpr const char* name = "msm: digit decomposition";
  const uint32_t* fr;   // Montgomery Fr scalars (kind kFr), or
  const int32_t* i32;   // int32 scalars (kind kI32)
  uint32_t* keys;
  uint32_t* vals;
  size_t n, row0, rows;
  int c, W;
  uint32_t B, sentinel;
  bool shared_points, shared_scalars, glv;
  ZK_HD void emit(const uint32_t* limbs, int nl, bool neg, uint32_t ref, size_t lr,
                  size_t term) const {
    const size_t terms = glv ? 2 * n : n;
    const int32_t half = 1 << (c - 1);
    int32_t carry = 0;
    for (int w = 0; w < W; ++w) {
      int32_t d = (int32_t)bits_at(limbs, nl, w * c, c) + carry;
      carry = 0;
      if (d > half) {
        d -= 1 << c;
        carry = 1;
      }
      size_t e = (lr * W + w) * terms + term;
      if (d == 0) {
        keys[e] = sentinel;
        vals[e] = 0;
      } else {
        bool sub = (d < 0) != neg;
        uint32_t mag = (uint32_t)(d < 0 ? -d : d);
        keys[e] = (uint32_t)((lr * W + w) * B + (mag - 1));
        vals[e] = ref | (sub ? kNegBit : 0u);
      }
    }
  }
  ZK_HD void operator()(size_t idx) const {
    if (idx >= rows * n) return;
    size_t lr = idx / n, i = idx - lr * n;
    size_t s = (shared_scalars ? 0 : row0 + lr) * n + i;
    const uint32_t ref = (uint32_t)(shared_points ? i : lr * n + i);
    if (fr) {
      Fr k = Fr::load(fr + 8 * s).to_canonical();
      if (glv) {  // shared points: references i and n + i
        uint32_t k1[4], k2[4];
        glv_split(k.v, k1, k2);
        emit(k1, 4, false, (uint32_t)i, lr, i);
        emit(k2, 4, false, (uint32_t)(n + i), lr, n + i);
      } else {
        emit(k.v, 8, false, ref, lr, i);
      }
    } else {
      int64_t x = i32[s];
      uint32_t mag = (uint32_t)(x < 0 ? -x : x);
      emit(&mag, 1, x < 0, ref, lr, i);
    }
  }
};

// φ(P_i) = (β·x_i, y_i) into affine slot n + i; the identity (0, 0) stays (0, 0).
struct Endomorphism {
  static constexpr const char* name = "msm: endomorphism";
  uint32_t* aff;
  size_t n;
  ZK_HD void operator()(size_t i) const {
    if (i >= n) return;
    const uint32_t* src = aff + (size_t)kAffWords * i;
    uint32_t* dst = aff + (size_t)kAffWords * (n + i);
    (Fp::load(src) * glv_beta()).store(dst);
    Fp::load(src + 12).store(dst + 12);
  }
};

// Accumulation over sorted entries, thread t taking [tK, tK + K). Level 0 reads point
// references; later levels read the slots of the previous level. See step 4 above.
template <bool kFirst>
struct Accumulate {
  static constexpr const char* name = kFirst ? "msm: bucket accumulation"
                                             : "msm: bucket accumulation (carry level)";
  const uint32_t* keys;   // sorted keys (level 0) or slot keys with kRealBit
  const uint32_t* vals;   // point references (level 0) or XYZZ partial sums
  const uint32_t* aff;    // affine points (level 0)
  uint32_t* buckets;
  uint32_t* out_keys;     // 2 slots per chunk
  uint32_t* out_vals;
  size_t count;
  uint32_t K, sentinel;
  ZK_HD uint32_t key(size_t i) const { return keys[i] & kKeyMask; }
  ZK_HD void operator()(size_t t) const {
    const size_t lo = t * K;
    if (lo >= count) return;
    const size_t hi = lo + K < count ? lo + K : count;
    out_keys[2 * t] = key(lo);
    store_xyzz_identity(out_vals + kXyzzWords * (2 * t));
    out_keys[2 * t + 1] = key(hi - 1);
    store_xyzz_identity(out_vals + kXyzzWords * (2 * t + 1));
    const bool first_cont = lo > 0 && key(lo - 1) == key(lo);
    // One addition per iteration, whatever the segment, keeps a warp's threads in step.
    G1XYZZ acc = G1XYZZ::identity();
    bool real = kFirst;
    size_t s = lo;  // first entry of the current piece
    // Level 0 loads the next point while adding the current one, so the gather's latency
    // overlaps the arithmetic instead of stalling every iteration.
    uint32_t next_ref = kFirst ? vals[lo] : 0u;
    G1Affine next;
    if (kFirst) next = load_affine_vec(aff + (size_t)kAffWords * (next_ref & kKeyMask));
    for (size_t i = lo; i < hi; ++i) {
      const uint32_t k = key(i);
      if (k == sentinel) break;
      if (kFirst) {
        const uint32_t ref = next_ref;
        G1Affine p = next;
        if (i + 1 < hi) {
          next_ref = vals[i + 1];
          next = load_affine_vec(aff + (size_t)kAffWords * (next_ref & kKeyMask));
        }
        if (ref & kNegBit) p.y = -p.y;
        acc = xyzz_add_affine(acc, p);
      } else {
        acc = xyzz_add(acc, load_xyzz(vals + (size_t)kXyzzWords * i));
        real = real || (keys[i] & kRealBit) != 0;
      }
      if (i + 1 == hi || key(i + 1) != k) {  // the piece [s, i] ends here
        const bool starts = !(s == lo && first_cont);
        const bool ends = i + 1 == count || key(i + 1) != k;
        if (starts && ends) {
          if (real) store_xyzz(buckets + (size_t)kXyzzWords * k, acc);
        } else {
          size_t slot = s == lo ? 2 * t : 2 * t + 1;
          out_keys[slot] = k | (real ? kRealBit : 0u);
          store_xyzz(out_vals + kXyzzWords * slot, acc);
        }
        acc = G1XYZZ::identity();
        real = kFirst;
        s = i + 1;
      }
    }
  }
};

// Running sums over L = 2^logL buckets: thread (window gw, segment s).
struct SegmentSums {
  static constexpr const char* name = "msm: bucket running sums";
  const uint32_t* buckets;
  uint32_t* A;
  uint32_t* R;
  size_t windows;
  uint32_t B, T, logL;
  ZK_HD void operator()(size_t idx) const {
    if (idx >= windows * T) return;
    size_t gw = idx / T, s = idx - gw * T;
    const uint32_t L = 1u << logL;
    const uint32_t* base = buckets + (size_t)kXyzzWords * (gw * B + s * L);
    G1XYZZ run = G1XYZZ::identity(), acc = G1XYZZ::identity();
    for (uint32_t u = L; u-- > 0;) {
      run = xyzz_add(run, load_xyzz(base + (size_t)kXyzzWords * u));
      acc = xyzz_add(acc, run);
    }
    store_xyzz(A + (size_t)kXyzzWords * idx, acc);
    store_xyzz(R + (size_t)kXyzzWords * idx, run);
  }
};

// First plain-sum pass: thread (gw, j, part p) sums kFanIn members of set j of window gw, where
// set 0 is {A_s} and set j >= 1 is {R_s : bit j-1 of s is set}. Output [windows][J][P1].
struct SubsetSums {
  static constexpr const char* name = "msm: window subset sums";
  const uint32_t* A;
  const uint32_t* R;
  uint32_t* out;
  size_t windows;
  uint32_t T, J, P1;
  ZK_HD void operator()(size_t idx) const {
    if (idx >= windows * J * P1) return;
    size_t q = idx / P1, p = idx - q * P1;
    size_t gw = q / J;
    uint32_t j = (uint32_t)(q - gw * J);
    uint32_t len = j == 0 ? T : T / 2;
    G1XYZZ acc = G1XYZZ::identity();
    for (uint32_t k = (uint32_t)p * kFanIn; k < len && k < ((uint32_t)p + 1) * kFanIn; ++k) {
      if (j == 0) {
        acc = xyzz_add(acc, load_xyzz(A + (size_t)kXyzzWords * (gw * T + k)));
      } else {
        uint32_t b = j - 1;
        uint32_t s = ((k >> b) << (b + 1)) | (1u << b) | (k & ((1u << b) - 1u));
        acc = xyzz_add(acc, load_xyzz(R + (size_t)kXyzzWords * (gw * T + s)));
      }
    }
    store_xyzz(out + (size_t)kXyzzWords * idx, acc);
  }
};

// Plain sums: out[q][p'] = Σ in[q][p'·kFanIn + k], for `groups` rows of P inputs.
struct PlainSums {
  static constexpr const char* name = "msm: plain sums";
  const uint32_t* in;
  uint32_t* out;
  size_t groups;
  uint32_t P, Pout;
  ZK_HD void operator()(size_t idx) const {
    if (idx >= groups * Pout) return;
    size_t q = idx / Pout, p = idx - q * Pout;
    G1XYZZ acc = G1XYZZ::identity();
    for (uint32_t k = (uint32_t)p * kFanIn; k < P && k < ((uint32_t)p + 1) * kFanIn; ++k)
      acc = xyzz_add(acc, load_xyzz(in + (size_t)kXyzzWords * (q * P + k)));
    store_xyzz(out + (size_t)kXyzzWords * idx, acc);
  }
};

// Window sum from its J plain sums Z: Z_0 + 2^logL · Σ_{j>=1} 2^(j-1) Z_j.
struct WindowSums {
  static constexpr const char* name = "msm: window sums";
  const uint32_t* Z;
  uint32_t* S;
  size_t windows;
  uint32_t J, logL;
  ZK_HD void operator()(size_t gw) const {
    if (gw >= windows) return;
    const uint32_t* z = Z + (size_t)kXyzzWords * J * gw;
    G1XYZZ acc = G1XYZZ::identity();
    if (J > 1) {
      acc = load_xyzz(z + (size_t)kXyzzWords * (J - 1));
      for (uint32_t j = J - 1; j-- > 1;)
        acc = xyzz_add(xyzz_dbl(acc), load_xyzz(z + (size_t)kXyzzWords * j));
    }
    for (uint32_t i = 0; i < logL; ++i) acc = xyzz_dbl(acc);
    acc = xyzz_add(acc, load_xyzz(z));
    store_xyzz(S + (size_t)kXyzzWords * gw, acc);
  }
};

// Σ_w 2^(cw) S_w per row by Horner, stored as a Jacobian point at out[row0 + lr]. One thread
// per row runs (W-1)·c serial doublings, so this step is pure latency: the Horner runs in
// Jacobian coordinates, whose doubling (dbl-2009-l, 2M + 5S, three products deep) is cheaper
// and shallower than XYZZ's (6M + 3S, four deep); the W - 1 additions pay a conversion each.
struct RowSums {
  static constexpr const char* name = "msm: window combination";
  const uint32_t* S;
  uint32_t* out;
  size_t rows, row0;
  int c, W;
  ZK_HD void operator()(size_t lr) const {
    if (lr >= rows) return;
    const uint32_t* s = S + (size_t)kXyzzWords * W * lr;
    G1 acc = xyzz_to_jacobian(load_xyzz(s + (size_t)kXyzzWords * (W - 1)));
    for (int w = W - 1; w-- > 0;) {
      for (int i = 0; i < c; ++i) acc = g1_dbl(acc);
      acc = g1_add(acc, xyzz_to_jacobian(load_xyzz(s + (size_t)kXyzzWords * w)));
    }
    acc.store(out + (size_t)kJacWords * (row0 + lr));
  }
};

struct FillIdentity {
  static constexpr const char* name = "msm: identity fill";
  uint32_t* out;
  size_t rows;
  ZK_HD void operator()(size_t r) const {
    if (r < rows) G1::identity().store(out + (size_t)kJacWords * r);
  }
};

// The steps built on full XYZZ additions and doublings, behind one entry point. ptxas compiles
// the out-of-line curve functions again for every kernel that calls them, so one kernel for all
// of these steps instead of six saves most of the compile time. Executors launch
// `launchable(f)`, which wraps these steps and passes the others through.
struct CurveStep {
  enum Op : int { kAccumulate, kSegment, kSubset, kPlain, kWindow, kRow };
  Op op;
  Accumulate<false> acc;
  SegmentSums seg;
  SubsetSums sub;
  PlainSums plain;
  WindowSums win;
  RowSums row;
  const char* name_;
  ZK_HD void operator()(size_t i) const {
    switch (op) {
      case kAccumulate: acc(i); break;
      case kSegment: seg(i); break;
      case kSubset: sub(i); break;
      case kPlain: plain(i); break;
      case kWindow: win(i); break;
      case kRow: row(i); break;
    }
  }
};

template <class F>
inline const F& launchable(const F& f) {
  return f;
}
inline CurveStep curve_step(CurveStep::Op op, const char* name) {
  CurveStep s{};
  s.op = op;
  s.name_ = name;
  return s;
}
inline CurveStep launchable(const Accumulate<false>& f) {
  CurveStep s = curve_step(CurveStep::kAccumulate, f.name);
  s.acc = f;
  return s;
}
inline CurveStep launchable(const SegmentSums& f) {
  CurveStep s = curve_step(CurveStep::kSegment, f.name);
  s.seg = f;
  return s;
}
inline CurveStep launchable(const SubsetSums& f) {
  CurveStep s = curve_step(CurveStep::kSubset, f.name);
  s.sub = f;
  return s;
}
inline CurveStep launchable(const PlainSums& f) {
  CurveStep s = curve_step(CurveStep::kPlain, f.name);
  s.plain = f;
  return s;
}
inline CurveStep launchable(const WindowSums& f) {
  CurveStep s = curve_step(CurveStep::kWindow, f.name);
  s.win = f;
  return s;
}
inline CurveStep launchable(const RowSums& f) {
  CurveStep s = curve_step(CurveStep::kRow, f.name);
  s.row = f;
  return s;
}
template <class F>
inline const char* step_name(const F&) {
  return F::name;
}
inline const char* step_name(const CurveStep& s) { return s.name_; }

// --- orchestration -------------------------------------------------------------------------

// Word offsets of every buffer inside one scratch block.
struct Layout {
  size_t aff, keys_in, vals_in, keys_out, vals_out, buckets, slot_keys_a, slot_vals_a,
      slot_keys_b, slot_vals_b, seg_a, seg_r, sums_a, sums_b, wsums, total;
};

inline Layout make_layout(const Plan& p) {
  Layout l{};
  size_t at = 0;
  auto take = [&](size_t words) {
    size_t r = at;
    at += (words + 63) & ~size_t{63};  // 256-byte alignment
    return r;
  };
  l.aff = take(p.affine_points() * kAffWords);
  l.keys_in = take(p.entries);
  l.vals_in = take(p.entries);
  l.keys_out = take(p.entries);
  l.vals_out = take(p.entries);
  l.buckets = take(p.buckets() * kXyzzWords);
  l.slot_keys_a = take(p.slots_a());
  l.slot_vals_a = take(p.slots_a() * kXyzzWords);
  l.slot_keys_b = take(p.slots_b());
  l.slot_vals_b = take(p.slots_b() * kXyzzWords);
  l.seg_a = take(p.windows() * p.T * kXyzzWords);
  l.seg_r = take(p.windows() * p.T * kXyzzWords);
  l.sums_a = take(p.sums_a() * kXyzzWords);
  l.sums_b = take(p.sums_b() * kXyzzWords);
  l.wsums = take(p.windows() * kXyzzWords);
  l.total = at;
  return l;
}

// Threads for the affine conversion: one Fermat inversion (~570 Fp products) per thread against
// ~7 products per point, so ~32 points per thread, and enough threads to fill the device.
inline size_t affine_threads(size_t count) {
  size_t t = count / 32;
  if (t < (size_t{1} << 15)) t = size_t{1} << 15;
  if (t > (size_t{1} << 16)) t = size_t{1} << 16;
  return t < count ? t : count;
}

// Runs the whole MSM. Exec provides:
//   Status launch(size_t count, const F& f)            run launchable(f)(i) for i < count
//   Status sort(const uint32_t* keys_in, uint32_t* keys_out, const uint32_t* vals_in,
//               uint32_t* vals_out, size_t count, int key_bits)
//   Status zero(uint32_t* p, size_t words)
// where Status has ok(). `scratch` holds Layout::total words.
template <class Exec, class Status>
Status run(Exec& ex, const Plan& p, uint32_t* scratch, const uint32_t* points,
           const uint32_t* fr_scalars, const int32_t* i32_scalars, uint32_t* out) {
  const Layout l = make_layout(p);
  Status st{};
  uint32_t* aff = scratch + l.aff;
  if (p.shared_points) {
    size_t th = affine_threads(p.n);
    st = ex.launch(th, ToAffine{points, aff, p.n, th});
    if (!st.ok()) return st;
    if (p.glv) {
      st = ex.launch(p.n, Endomorphism{aff, p.n});
      if (!st.ok()) return st;
    }
  }
  for (size_t row0 = 0; row0 < p.m; row0 += p.group) {
    const size_t rows = p.m - row0 < p.group ? p.m - row0 : p.group;
    if (!p.shared_points) {
      size_t cnt = rows * p.n, th = affine_threads(cnt);
      st = ex.launch(th, ToAffine{points + kJacWords * row0 * p.n, aff, cnt, th});
      if (!st.ok()) return st;
    }
    const size_t E = rows * p.terms() * p.W;
    st = ex.launch(rows * p.n, Digits{fr_scalars, i32_scalars, scratch + l.keys_in,
                                      scratch + l.vals_in, p.n, row0, rows, p.c, p.W, p.B,
                                      p.sentinel, p.shared_points, p.shared_scalars, p.glv});
    if (!st.ok()) return st;
    st = ex.sort(scratch + l.keys_in, scratch + l.keys_out, scratch + l.vals_in,
                 scratch + l.vals_out, E, p.key_bits);
    if (!st.ok()) return st;
    const size_t windows = rows * p.W;
    uint32_t* buckets = scratch + l.buckets;
    st = ex.zero(buckets, windows * p.B * kXyzzWords);
    if (!st.ok()) return st;

    // Accumulation levels until one chunk covers what is left.
    uint32_t* ka = scratch + l.slot_keys_a;
    uint32_t* va = scratch + l.slot_vals_a;
    uint32_t* kb = scratch + l.slot_keys_b;
    uint32_t* vb = scratch + l.slot_vals_b;
    size_t chunks = (E + p.K0 - 1) / p.K0;
    st = ex.launch(chunks, Accumulate<true>{scratch + l.keys_out, scratch + l.vals_out, aff,
                                            buckets, ka, va, E, p.K0, p.sentinel});
    if (!st.ok()) return st;
    while (chunks > 1) {
      size_t count = 2 * chunks;
      chunks = (count + p.K1 - 1) / p.K1;
      st = ex.launch(chunks, Accumulate<false>{ka, va, nullptr, buckets, kb, vb, count, p.K1,
                                               p.sentinel});
      if (!st.ok()) return st;
      uint32_t* tk = ka;
      uint32_t* tv = va;
      ka = kb;
      va = vb;
      kb = tk;
      vb = tv;
    }

    // Bucket reduction.
    st = ex.launch(windows * p.T, SegmentSums{buckets, scratch + l.seg_a, scratch + l.seg_r,
                                              windows, p.B, p.T, p.logL});
    if (!st.ok()) return st;
    uint32_t* sa = scratch + l.sums_a;
    uint32_t* sb = scratch + l.sums_b;
    st = ex.launch(windows * p.J * p.P1, SubsetSums{scratch + l.seg_a, scratch + l.seg_r, sa,
                                                    windows, p.T, p.J, p.P1});
    if (!st.ok()) return st;
    uint32_t P = p.P1;
    while (P > 1) {
      uint32_t Pout = (P + kFanIn - 1) / kFanIn;
      st = ex.launch(windows * p.J * Pout, PlainSums{sa, sb, windows * p.J, P, Pout});
      if (!st.ok()) return st;
      uint32_t* t = sa;
      sa = sb;
      sb = t;
      P = Pout;
    }
    st = ex.launch(windows, WindowSums{sa, scratch + l.wsums, windows, p.J, p.logL});
    if (!st.ok()) return st;
    st = ex.launch(rows, RowSums{scratch + l.wsums, out, rows, row0, p.c, p.W});
    if (!st.ok()) return st;
  }
  return st;
}

}  // namespace zk::msm
