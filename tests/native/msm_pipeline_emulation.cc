// Runs the GPU MSM pipeline (xla_ffi/cuda/msm_pipeline.h) on the host, one loop iteration per
// GPU thread, and checks it against naive double-and-add sums. Exercises the indexing of every
// step (digits, sort, chunked accumulation with carry levels, bucket reduction, window
// combination) on machines without a GPU. Exit status 0 when every case matches.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "cuda/msm_pipeline.h"

using namespace zk;
namespace msm = zk::msm;

struct HostStatus {
  bool ok() const { return true; }
};

struct HostExec {
  size_t launches = 0;
  template <class F>
  HostStatus launch(size_t count, const F& f) {
    ++launches;
    const auto& step = msm::launchable(f);  // what the CUDA executor launches
    for (size_t i = 0; i < count; ++i) step(i);
    return {};
  }
  HostStatus sort(const uint32_t* ki, uint32_t* ko, const uint32_t* vi, uint32_t* vo, size_t n,
                  int key_bits) {
    std::vector<size_t> idx(n);
    std::iota(idx.begin(), idx.end(), 0);
    const uint32_t mask = key_bits >= 32 ? 0xffffffffu : ((1u << key_bits) - 1u);
    std::stable_sort(idx.begin(), idx.end(),
                     [&](size_t a, size_t b) { return (ki[a] & mask) < (ki[b] & mask); });
    for (size_t i = 0; i < n; ++i) {
      ko[i] = ki[idx[i]];
      vo[i] = vi[idx[i]];
    }
    return {};
  }
  HostStatus zero(uint32_t* p, size_t words) {
    std::memset(p, 0, words * 4);
    return {};
  }
};

static std::mt19937_64 rng(12345);

static Fr random_canonical() {
  Fr r;
  for (int i = 0; i < 8; ++i) r.v[i] = (uint32_t)rng();
  r.v[7] %= 0x73eda753u;  // below r's top limb, so below r
  return r;
}

static G1 random_point(int style) {
  if (style == 0) return G1::identity();
  uint32_t k[2] = {(uint32_t)rng(), (uint32_t)rng()};
  G1 p = G1::generator().mul_limbs(k, 2);
  if (style == 1) return G1::from_affine(p.to_affine());  // Z = 1
  return p;                                               // Z != 1
}

struct Case {
  const char* name;
  size_t m, n;
  bool shared_points, shared_scalars;
  msm::ScalarKind kind;
  int scalar_style;  // 0 random, 1 all equal, 2 special values, 3 small magnitudes, 4 GLV edges,
                     // 5 |x| <= 2^(bits-1) with the edges (i32)
  int force_c = 0, force_group = 0, force_K0 = 0, force_K1 = 0, force_T = 0;
  int bits = 32;     // i32: the plan's bound |x| <= 2^(bits-1)
};

static int run_case(const Case& cs) {
  const size_t np = cs.shared_points ? cs.n : cs.m * cs.n;
  const size_t ns = cs.shared_scalars ? cs.n : cs.m * cs.n;
  std::vector<uint32_t> pts(np * 36);
  std::vector<G1> P(np);
  for (size_t i = 0; i < np; ++i) {
    int style = (i % 11 == 5) ? 0 : (int)(i % 3 == 0 ? 1 : 2);
    P[i] = random_point(style);
    P[i].store(pts.data() + 36 * i);
  }
  std::vector<uint32_t> fr(ns * 8);
  std::vector<int32_t> i32(ns);
  std::vector<Fr> canon(ns);  // Fr kind: canonical scalar
  const Fr r_minus_1 = [] {
    Fr m = Fr::modulus_limbs();
    m.v[0] -= 1;
    return m;
  }();
  for (size_t i = 0; i < ns; ++i) {
    if (cs.kind == msm::ScalarKind::kFr) {
      Fr k;
      switch (cs.scalar_style) {
        case 1: k = Fr::zero(); k.v[0] = 5; break;
        case 2: {
          Fr opts[4] = {Fr::zero(), Fr::zero(), r_minus_1, random_canonical()};
          opts[1].v[0] = 1;
          k = opts[i % 4];
          break;
        }
        case 3: k = Fr::zero(); k.v[0] = (uint32_t)(rng() % 300); break;
        case 4: {  // around multiples of λ, where the split k = k1 + λ·k2 changes k2
          k = Fr::zero();
          for (int j = 0; j < 4; ++j) k.v[j] = msm::glv_lambda(j);  // λ
          const int which = (int)(i % 5);
          if (which == 1) k.v[0] -= 1;                              // λ − 1
          if (which == 2) k.v[0] += 1, k.v[1] += 1;                 // λ + 1 (carry by hand)
          if (which == 3) {                                         // 2λ
            uint32_t carry = 0;
            for (int j = 0; j < 8; ++j) {
              uint64_t t = 2 * (uint64_t)k.v[j] + carry;
              k.v[j] = (uint32_t)t;
              carry = (uint32_t)(t >> 32);
            }
          }
          if (which == 4) k = r_minus_1;  // the largest quotient
          break;
        }
        default: k = random_canonical();
      }
      canon[i] = k;
      Fr::from_canonical(k).store(fr.data() + 8 * i);
    } else {
      int32_t x;
      switch (cs.scalar_style) {
        case 1: x = -7; break;
        case 2: {
          int32_t opts[6] = {0, 1, -1, INT32_MIN, INT32_MAX, (int32_t)rng()};
          x = opts[i % 6];
          break;
        }
        case 3: x = (int32_t)(rng() % 601) - 300; break;
        case 5: {
          const int64_t top = int64_t{1} << (cs.bits - 1);
          const int64_t opts[6] = {top, -top, top - 1, 1 - top, 0,
                                   (int64_t)(rng() % (uint64_t)(2 * top + 1)) - top};
          x = (int32_t)opts[i % 6];
          break;
        }
        default: x = (int32_t)rng();
      }
      i32[i] = x;
    }
  }

  msm::Plan p;
  if (!msm::make_plan(cs.m, cs.n, cs.shared_points, cs.shared_scalars, cs.kind, p, cs.bits)) {
    std::printf("FAIL %s: make_plan refused\n", cs.name);
    return 1;
  }
  if (cs.force_c) {
    p.c = cs.force_c;
    p.T = 1;
  }
  if (cs.force_group) p.group = std::min<size_t>(cs.force_group, cs.m);
  if (cs.force_K0) p.K0 = cs.force_K0;
  if (cs.force_K1) p.K1 = cs.force_K1;
  if (cs.force_T) p.T = std::min<uint32_t>(cs.force_T, 1u << (p.c - 1));
  msm::finish_plan(p);

  const msm::Layout lay = msm::make_layout(p);
  std::vector<uint32_t> scratch(lay.total, 0xdeadbeefu);  // garbage, as device scratch is
  std::vector<uint32_t> out(cs.m * 36, 0xdeadbeefu);
  HostExec ex;
  msm::run<HostExec, HostStatus>(ex, p, scratch.data(), pts.data(),
                                 cs.kind == msm::ScalarKind::kFr ? fr.data() : nullptr,
                                 cs.kind == msm::ScalarKind::kI32 ? i32.data() : nullptr,
                                 out.data());

  int bad = 0;
  for (size_t r = 0; r < cs.m; ++r) {
    G1 want = G1::identity();
    for (size_t i = 0; i < cs.n; ++i) {
      const G1& pt = P[(cs.shared_points ? 0 : r * cs.n) + i];
      size_t s = (cs.shared_scalars ? 0 : r * cs.n) + i;
      G1 term;
      if (cs.kind == msm::ScalarKind::kFr) {
        term = pt.mul_limbs(canon[s].v, 8);
      } else {
        int64_t x = i32[s];
        uint32_t mag = (uint32_t)(x < 0 ? -x : x);
        term = pt.mul_limbs(&mag, 1);
        if (x < 0) term = -term;
      }
      want = want + term;
    }
    G1 got = G1::load(out.data() + 36 * r);
    if (!(got == want)) ++bad;
  }
  std::printf("%s %s: m=%zu n=%zu c=%d W=%d group=%zu K0=%u K1=%u T=%u launches=%zu\n",
              bad ? "FAIL" : "ok  ", cs.name, cs.m, cs.n, p.c, p.W, p.group, p.K0, p.K1, p.T,
              ex.launches);
  return bad ? 1 : 0;
}

// The device field arithmetic (carry chains, field.h) with an emulated carry flag against the
// host path, bit for bit: products with a < 2^(32N) (from_wide's range) and b < m, sums and
// differences of canonical elements, edge values included.
template <class P>
static int check_chain_field(const char* name, int trials) {
  using F = Field<P>;
  constexpr int N = F::N;
  const F m = F::modulus_limbs();
  auto random_below_m = [&](int style) {
    F x;
    for (int i = 0; i < N; ++i) x.v[i] = (uint32_t)rng();
    if (style == 1) return F::zero();
    if (style == 2) {  // m - 1
      x = m;
      x.v[0] -= 1;
      return x;
    }
    if (style == 3) {  // m - small
      x = m;
      x.v[0] -= 1 + (uint32_t)(rng() % 1000);
      return x;
    }
    if (style == 4) {  // small
      x = F::zero();
      x.v[0] = (uint32_t)(rng() % 1000);
      return x;
    }
    x.v[N - 1] %= m.v[N - 1];  // below m's top limb
    return x;
  };
  int bad = 0;
  for (int t = 0; t < trials; ++t) {
    F a = random_below_m(t % 7), b = random_below_m((t / 7) % 7);
    F wide;  // any 32N-bit value, as from_wide feeds the product
    for (int i = 0; i < N; ++i) wide.v[i] = (t % 5 == 0) ? 0xffffffffu : (uint32_t)rng();
    F r;
    zk::detail::EmuChain o;
    zk::detail::mont_mul_cc<N>(r.v, a.v, b.v, m.v, P::inv32, o);
    if (r != a * b) ++bad;
    zk::detail::mont_mul_cc<N>(r.v, wide.v, b.v, m.v, P::inv32, o);
    if (r != wide * b) ++bad;
    zk::detail::add_mod_cc<N>(r.v, a.v, b.v, m.v, o);
    if (r != a + b) ++bad;
    zk::detail::sub_mod_cc<N>(r.v, a.v, b.v, m.v, o);
    if (r != a - b) ++bad;
    zk::detail::sub_mod_cc<N>(r.v, b.v, a.v, m.v, o);
    if (r != b - a) ++bad;
  }
  std::printf("%s %s device field arithmetic (emulated carry chains): %d trials\n",
              bad ? "FAIL" : "ok  ", name, trials);
  return bad ? 1 : 0;
}

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "quick") == 0;
  int fails = 0;
  fails += check_chain_field<FrParams>("Fr", quick ? 2000 : 20000);
  fails += check_chain_field<FpParams>("Fp", quick ? 2000 : 20000);
  using K = msm::ScalarKind;
  std::vector<Case> cases = {
      {"fr n=1", 1, 1, true, true, K::kFr, 0},
      {"fr n=2", 1, 2, true, true, K::kFr, 0},
      {"fr n=3", 1, 3, true, true, K::kFr, 0},
      {"i32 n=1", 1, 1, true, true, K::kI32, 0},
      {"i32 n=3", 1, 3, true, true, K::kI32, 0},
      {"fr special", 1, 40, true, true, K::kFr, 2},
      {"fr GLV edges", 1, 36, true, true, K::kFr, 4},
      {"i32 special", 1, 60, true, true, K::kI32, 2},
      {"fr all equal (one bucket per window)", 1, 300, true, true, K::kFr, 1},
      {"i32 all equal, tiny chunks", 1, 500, true, true, K::kI32, 1, 0, 0, 3, 4},
      {"i32 small magnitudes", 1, 400, true, true, K::kI32, 3},
      {"fr small magnitudes, c=16", 1, 200, true, true, K::kFr, 3, 16},
      {"fr batch shared points", 3, 50, true, false, K::kFr, 0},
      {"fr batch shared scalars", 3, 50, false, true, K::kFr, 0},
      {"i32 batch distinct", 4, 33, false, false, K::kI32, 0},
      {"i32 batch groups of 2", 5, 70, true, false, K::kI32, 0, 0, 2},
      {"fr batch groups of 1, tiny chunks", 3, 41, false, false, K::kFr, 0, 0, 1, 5, 4},
      {"i32 c=16 T=B", 1, 100, true, true, K::kI32, 0, 16, 0, 0, 0, 1u << 15},
      {"i32 c=7 T=4", 2, 90, true, false, K::kI32, 0, 7, 0, 0, 0, 4},
      {"fr c=5 T=16", 1, 64, true, true, K::kFr, 0, 5, 0, 0, 0, 16},
      {"i32 c=2", 1, 25, true, true, K::kI32, 0, 2},
      {"fr n=1000", 1, 1000, true, true, K::kFr, 0},
      {"i32 n=1000", 1, 1000, true, true, K::kI32, 0},
      // narrow bounds: fewer windows (W = ceil(bits/c)); the edges ±2^(bits-1) are the largest
      {"i32 bits=17 batch", 3, 300, true, false, K::kI32, 5, 0, 0, 0, 0, 0, 17},
      {"i32 bits=16 c=4", 2, 120, true, false, K::kI32, 5, 4, 0, 0, 0, 0, 16},
      {"i32 bits=17 c=9 (two windows)", 2, 200, true, false, K::kI32, 5, 9, 0, 0, 0, 0, 17},
      {"i32 bits=9 c=3", 1, 150, true, true, K::kI32, 5, 3, 0, 0, 0, 0, 9},
      {"i32 bits=2", 1, 40, true, true, K::kI32, 5, 0, 0, 0, 0, 0, 2},
  };
  if (!quick) {
    cases.push_back({"fr n=4103", 1, 4103, true, true, K::kFr, 0});
    cases.push_back({"i32 n=4103 batch", 2, 4103, true, false, K::kI32, 0});
  }
  for (const Case& c : cases) fails += run_case(c);
  std::printf("%d of %zu cases failed\n", fails, cases.size() + 2);
  return fails ? 1 : 0;
}
