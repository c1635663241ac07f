// G1 handlers for the CPU platform.
#include <vector>

#include "cpu/map_cpu.h"
#include "zkllm/msm_host.h"
#include "zkllm/ops.h"

namespace ffi = xla::ffi;
using zk::Fr;
using zk::G1;
using zk::G1Affine;

ZK_CPU_MAP2(zk_g1_add_cpu, zk::ops::G1Add);
ZK_CPU_MAP1(zk_g1_double_cpu, zk::ops::G1Double);
ZK_CPU_MAP1(zk_g1_neg_cpu, zk::ops::G1Neg);
ZK_CPU_MAP2(zk_g1_scalar_mul_cpu, zk::ops::G1ScalarMul);
ZK_CPU_MAP2(zk_g1_eq_cpu, zk::ops::G1Eq);
ZK_CPU_MAP1(zk_g1_validate_cpu, zk::ops::G1Validate);

namespace {

// Batched MSM. points: [mp, n, 36] with mp ∈ {1, m}; scalars: [ms, n, sw] with ms ∈ {1, m};
// out: [m, 36]. A batch of one on either side is shared by every MSM (Hyrax rows share bases).
// `prepare(i, limbs, negate)` writes scalar i's magnitude limbs and whether to negate the point.
template <class Prepare>
ffi::Error msm_batched(const uint32_t* pp, size_t pcount, size_t scount, int sw, int L, int nbits,
                       uint32_t* out, size_t m, Prepare prepare) {
  if (m == 0) return ffi::Error::Success();
  size_t sm = scount / sw, pm = pcount / 36;
  size_t big = sm > pm ? sm : pm;
  size_t n = big / m;
  if (big % m || !(pm == n || pm == m * n) || !(sm == n || sm == m * n))
    return ffi::Error::InvalidArgument("msm: points and scalars do not match the output batch");
  if (n == 0) {
    for (size_t r = 0; r < m; ++r) G1::identity().store(out + 36 * r);
    return ffi::Error::Success();
  }
  const bool shared_points = (pm == n);
  const bool shared_scalars = (sm == n);
  std::vector<G1Affine> aff(shared_points ? n : m * n);
  zk::to_affine_host(pp, aff.size(), aff.data());
  auto one_msm = [&](size_t r, bool threaded) {
    const G1Affine* pts = aff.data() + (shared_points ? 0 : r * n);
    std::vector<uint32_t> limbs((size_t)L * n);
    std::vector<uint8_t> neg(n);
    size_t srow = shared_scalars ? 0 : r;
    auto fill = [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) {
        bool ng = false;
        prepare(srow * n + i, limbs.data() + (size_t)L * i, ng);
        neg[i] = ng;
      }
    };
    if (threaded) {
      zk::parallel_chunks(n, 8192, fill);
    } else {
      fill(0, n);
    }
    zk::msm_host(pts, limbs.data(), neg.data(), L, nbits, n, threaded).store(out + 36 * r);
  };
  if (m >= zk::host_threads()) {
    zk::parallel_dynamic(m, [&](size_t r) { one_msm(r, false); });
  } else {
    for (size_t r = 0; r < m; ++r) one_msm(r, true);
  }
  return ffi::Error::Success();
}

ffi::Error Msm(ffi::Buffer<ffi::U32> pts, ffi::Buffer<ffi::U32> sc, ffi::ResultBuffer<ffi::U32> o) {
  const uint32_t* s = sc.typed_data();
  return msm_batched(pts.typed_data(), pts.element_count(), sc.element_count(), 8, 8, 255,
                     o->typed_data(), o->element_count() / 36,
                     [s](size_t i, uint32_t* limbs, bool& neg) {
                       Fr c = Fr::load(s + 8 * i).to_canonical();
                       for (int j = 0; j < 8; ++j) limbs[j] = c.v[j];
                       neg = false;
                     });
}

// bits: the caller's bound |scalar| <= 2^(bits-1) (as on CUDA); magnitudes then have at most
// `bits` bits, which sets the number of windows.
ffi::Error MsmI32(ffi::Buffer<ffi::U32> pts, ffi::Buffer<ffi::S32> sc,
                  ffi::ResultBuffer<ffi::U32> o, int32_t bits) {
  if (bits < 2 || bits > 32) return ffi::Error::InvalidArgument("msm: bits outside [2, 32]");
  const int32_t* s = sc.typed_data();
  return msm_batched(pts.typed_data(), pts.element_count(), sc.element_count(), 1, 1, bits,
                     o->typed_data(), o->element_count() / 36,
                     [s](size_t i, uint32_t* limbs, bool& neg) {
                       int64_t x = s[i];
                       neg = x < 0;
                       limbs[0] = (uint32_t)(neg ? -x : x);
                     });
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_g1_msm_cpu, Msm,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>());
XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_g1_msm_i32_cpu, MsmI32,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::S32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>()
                                  .Attr<int32_t>("bits"));
