// Hash to curve and the ZCash point encoding, for the CPU platform.
#include <vector>

#include "xla/ffi/api/ffi.h"
#include "zkllm/compress.h"
#include "zkllm/h2c.h"
#include "zkllm/msm_host.h"
#include "zkllm/parallel.h"

namespace ffi = xla::ffi;
using zk::G1;
using zk::G1Affine;

namespace {

// msgs: uint8[n, L]; dst: uint8[D], 1 <= D <= 255 -> points uint32[n, 3, 12].
ffi::Error HashToCurve(ffi::Buffer<ffi::U8> msgs, ffi::Buffer<ffi::U8> dst,
                       ffi::ResultBuffer<ffi::U32> out) {
  size_t n = out->element_count() / 36;
  size_t d = dst.element_count();
  if (d == 0 || d > 255)
    return ffi::Error::InvalidArgument("g1_hash_to_curve: the DST must be 1..255 bytes");
  if (n == 0) return ffi::Error::Success();
  if (msgs.element_count() % n)
    return ffi::Error::InvalidArgument("g1_hash_to_curve: message bytes are not whole rows");
  size_t len = msgs.element_count() / n;
  const uint8_t* pm = msgs.typed_data();
  const uint8_t* pd = dst.typed_data();
  uint32_t* po = out->typed_data();
  zk::parallel_for(n, 16, [&](size_t i) {
    zk::h2c::hash_to_curve(pm + i * len, len, pd, (int)d).store(po + 36 * i);
  });
  return ffi::Error::Success();
}

// points uint32[n, 3, 12] -> uint8[n, 48]; one batched inversion per chunk for the affine x, y.
ffi::Error Compress(ffi::Buffer<ffi::U32> pts, ffi::ResultBuffer<ffi::U8> out) {
  size_t n = out->element_count() / 48;
  if (pts.element_count() != 36 * n)
    return ffi::Error::InvalidArgument("g1_compress: operand size mismatch");
  if (n == 0) return ffi::Error::Success();
  std::vector<G1Affine> aff(n);
  zk::to_affine_host(pts.typed_data(), n, aff.data());
  uint8_t* po = out->typed_data();
  zk::parallel_for(n, 1024, [&](size_t i) { zk::zcash::compress(aff[i], po + 48 * i); });
  return ffi::Error::Success();
}

// uint8[n, 48] -> (points uint32[n, 3, 12], status uint32[n]); see zk::zcash::Status.
ffi::Error Decompress(ffi::Buffer<ffi::U8> enc, ffi::ResultBuffer<ffi::U32> out,
                      ffi::ResultBuffer<ffi::U32> status) {
  size_t n = status->element_count();
  if (enc.element_count() != 48 * n || out->element_count() != 36 * n)
    return ffi::Error::InvalidArgument("g1_decompress: operand size mismatch");
  const uint8_t* pe = enc.typed_data();
  uint32_t* po = out->typed_data();
  uint32_t* ps = status->typed_data();
  zk::parallel_for(n, 16, [&](size_t i) {
    G1 p;
    ps[i] = zk::zcash::decompress(pe + 48 * i, p);
    p.store(po + 36 * i);
  });
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_g1_hash_to_curve_cpu, HashToCurve,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::U8>>()
                                  .Arg<ffi::Buffer<ffi::U8>>()
                                  .Ret<ffi::Buffer<ffi::U32>>());
XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_g1_compress_cpu, Compress,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U8>>());
XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_g1_decompress_cpu, Decompress,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::U8>>()
                                  .Ret<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>());
