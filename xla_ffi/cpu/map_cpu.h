#pragma once
// Elementwise handlers on the CPU: every operand is a flat array of fixed-width elements.
#include "xla/ffi/api/ffi.h"
#include "zkllm/parallel.h"

namespace zk::cpu {

namespace ffi = xla::ffi;

template <class Op>
ffi::Error map1(ffi::Buffer<ffi::U32> a, ffi::ResultBuffer<ffi::U32> o) {
  size_t n = o->element_count() / Op::O;
  if (a.element_count() != n * Op::A) return ffi::Error::InvalidArgument("operand size mismatch");
  const uint32_t* pa = a.typed_data();
  uint32_t* po = o->typed_data();
  parallel_for(n, 2048, [&](size_t i) { Op::apply(pa + i * Op::A, po + i * Op::O); });
  return ffi::Error::Success();
}

template <class Op>
ffi::Error map2(ffi::Buffer<ffi::U32> a, ffi::Buffer<ffi::U32> b, ffi::ResultBuffer<ffi::U32> o) {
  size_t n = o->element_count() / Op::O;
  if (a.element_count() != n * Op::A || b.element_count() != n * Op::B)
    return ffi::Error::InvalidArgument("operand size mismatch");
  const uint32_t* pa = a.typed_data();
  const uint32_t* pb = b.typed_data();
  uint32_t* po = o->typed_data();
  parallel_for(n, 2048, [&](size_t i) {
    Op::apply(pa + i * Op::A, pb + i * Op::B, po + i * Op::O);
  });
  return ffi::Error::Success();
}

}  // namespace zk::cpu

#define ZK_CPU_MAP1(name, Op)                                                           \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(name, zk::cpu::map1<Op>,                               \
                                xla::ffi::Ffi::Bind()                                  \
                                    .Arg<xla::ffi::Buffer<xla::ffi::U32>>()           \
                                    .Ret<xla::ffi::Buffer<xla::ffi::U32>>())
#define ZK_CPU_MAP2(name, Op)                                                           \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(name, zk::cpu::map2<Op>,                               \
                                xla::ffi::Ffi::Bind()                                  \
                                    .Arg<xla::ffi::Buffer<xla::ffi::U32>>()           \
                                    .Arg<xla::ffi::Buffer<xla::ffi::U32>>()           \
                                    .Ret<xla::ffi::Buffer<xla::ffi::U32>>())
