// Fr handlers for the CPU platform.
#include <vector>

#include "cpu/map_cpu.h"
#include "zkllm/ops.h"

namespace ffi = xla::ffi;
using zk::Fr;

ZK_CPU_MAP2(zk_fr_add_cpu, zk::ops::FrAdd);
ZK_CPU_MAP2(zk_fr_sub_cpu, zk::ops::FrSub);
ZK_CPU_MAP2(zk_fr_mul_cpu, zk::ops::FrMul);
ZK_CPU_MAP2(zk_fr_pow_cpu, zk::ops::FrPow);
ZK_CPU_MAP1(zk_fr_neg_cpu, zk::ops::FrNeg);
ZK_CPU_MAP1(zk_fr_to_mont_cpu, zk::ops::FrToMont);
ZK_CPU_MAP1(zk_fr_from_mont_cpu, zk::ops::FrFromMont);
ZK_CPU_MAP1(zk_fr_from_wide_cpu, zk::ops::FrFromWide);
ZK_CPU_MAP1(zk_fr_from_i32_cpu, zk::ops::FrFromI32);

namespace {

// Montgomery's trick on one chunk; zeros are skipped and map to zero.
void batch_inv_chunk(const uint32_t* in, uint32_t* out, size_t n) {
  std::vector<Fr> prefix(n);
  Fr acc = Fr::one();
  for (size_t i = 0; i < n; ++i) {
    prefix[i] = acc;
    Fr x = Fr::load(in + 8 * i);
    if (!x.is_zero()) acc = acc * x;
  }
  Fr inv = acc.inv();
  for (size_t i = n; i-- > 0;) {
    Fr x = Fr::load(in + 8 * i);
    if (x.is_zero()) {
      Fr::zero().store(out + 8 * i);
      continue;
    }
    (inv * prefix[i]).store(out + 8 * i);
    inv = inv * x;
  }
}

ffi::Error BatchInv(ffi::Buffer<ffi::U32> a, ffi::ResultBuffer<ffi::U32> o) {
  size_t n = a.element_count() / 8;
  const uint32_t* pa = a.typed_data();
  uint32_t* po = o->typed_data();
  zk::parallel_chunks(n, 4096, [&](size_t b, size_t e) {
    batch_inv_chunk(pa + 8 * b, po + 8 * b, e - b);
  });
  return ffi::Error::Success();
}

// a: [m, n, 8] -> [m, 8]
ffi::Error Sum(ffi::Buffer<ffi::U32> a, ffi::ResultBuffer<ffi::U32> o,
               ffi::ResultBuffer<ffi::U32> /*scratch: the CUDA handler's partials*/) {
  size_t m = o->element_count() / 8;
  if (m == 0 || a.element_count() % (8 * m)) return ffi::Error::InvalidArgument("bad shapes");
  size_t n = a.element_count() / (8 * m);
  const uint32_t* pa = a.typed_data();
  uint32_t* po = o->typed_data();
  zk::parallel_for(m, 1, [&](size_t r) {
    Fr acc = Fr::zero();
    for (size_t i = 0; i < n; ++i) acc += Fr::load(pa + 8 * (r * n + i));
    acc.store(po + 8 * r);
  });
  return ffi::Error::Success();
}

ffi::Error InnerProduct(ffi::Buffer<ffi::U32> a, ffi::Buffer<ffi::U32> b,
                        ffi::ResultBuffer<ffi::U32> o,
                        ffi::ResultBuffer<ffi::U32> /*scratch: the CUDA handler's partials*/) {
  size_t m = o->element_count() / 8;
  if (m == 0 || a.element_count() % (8 * m) || a.element_count() != b.element_count())
    return ffi::Error::InvalidArgument("bad shapes");
  size_t n = a.element_count() / (8 * m);
  const uint32_t* pa = a.typed_data();
  const uint32_t* pb = b.typed_data();
  uint32_t* po = o->typed_data();
  zk::parallel_for(m, 1, [&](size_t r) {
    Fr acc = Fr::zero();
    for (size_t i = 0; i < n; ++i) {
      size_t k = 8 * (r * n + i);
      acc += Fr::load(pa + k) * Fr::load(pb + k);
    }
    acc.store(po + 8 * r);
  });
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_fr_batch_inv_cpu, BatchInv,
                              ffi::Ffi::Bind().Arg<ffi::Buffer<ffi::U32>>().Ret<ffi::Buffer<ffi::U32>>());
XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_fr_sum_cpu, Sum,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>());
XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_fr_inner_product_cpu, InnerProduct,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>());
