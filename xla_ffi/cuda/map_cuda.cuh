#pragma once
// Elementwise handlers on CUDA: one thread per element, on XLA's stream, no allocation or sync.
// Handlers that only launch kernels on XLA's stream and use no scratch memory carry
// ZK_CMD_BUFFER, so that XLA may record them into command buffers (CUDA graphs) with the
// fusions around them instead of launching every small kernel from the host.
#include <cuda_runtime.h>

#include <cstdint>
#include <optional>
#include <string>

#include "xla/ffi/api/ffi.h"

namespace zk::cuda {

namespace ffi = xla::ffi;

inline ffi::Error last_error(const char* what) {
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess)
    return ffi::Error::Internal(std::string(what) + ": " + cudaGetErrorString(err));
  return ffi::Error::Success();
}

// Scratch from XLA's allocator. XLA serves alignments up to 16 bytes only (a request for 256
// fails), so over-allocate and round the pointer up to `align`.
inline std::optional<void*> scratch_alloc(ffi::ScratchAllocator& scratch, size_t bytes,
                                          size_t align = 256) {
  std::optional<void*> raw = scratch.Allocate(bytes + align, 16);
  if (!raw.has_value()) return std::nullopt;
  uintptr_t p = reinterpret_cast<uintptr_t>(*raw);
  return reinterpret_cast<void*>((p + align - 1) & ~(uintptr_t)(align - 1));
}

inline unsigned grid_for(size_t n, unsigned block) {
  size_t g = (n + block - 1) / block;
  return (unsigned)(g > 0x7fffffffu ? 0x7fffffffu : (g == 0 ? 1 : g));
}

#define ZK_CMD_BUFFER {xla::ffi::Traits::kCmdBufferCompatible}

template <class Op>
__global__ void map1_kernel(const uint32_t* a, uint32_t* o, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x)
    Op::apply(a + i * Op::A, o + i * Op::O);
}

template <class Op>
__global__ void map2_kernel(const uint32_t* a, const uint32_t* b, uint32_t* o, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x)
    Op::apply(a + i * Op::A, b + i * Op::B, o + i * Op::O);
}

template <class Op>
ffi::Error map1(cudaStream_t s, ffi::Buffer<ffi::U32> a, ffi::ResultBuffer<ffi::U32> o) {
  size_t n = o->element_count() / Op::O;
  if (a.element_count() != n * Op::A) return ffi::Error::InvalidArgument("operand size mismatch");
  if (n == 0) return ffi::Error::Success();
  map1_kernel<Op><<<grid_for(n, 256), 256, 0, s>>>(a.typed_data(), o->typed_data(), n);
  return last_error("map1 kernel");
}

template <class Op>
ffi::Error map2(cudaStream_t s, ffi::Buffer<ffi::U32> a, ffi::Buffer<ffi::U32> b,
                ffi::ResultBuffer<ffi::U32> o) {
  size_t n = o->element_count() / Op::O;
  if (a.element_count() != n * Op::A || b.element_count() != n * Op::B)
    return ffi::Error::InvalidArgument("operand size mismatch");
  if (n == 0) return ffi::Error::Success();
  map2_kernel<Op><<<grid_for(n, 256), 256, 0, s>>>(a.typed_data(), b.typed_data(),
                                                   o->typed_data(), n);
  return last_error("map2 kernel");
}

}  // namespace zk::cuda

#define ZK_CUDA_MAP1(name, Op)                                                  \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(                                               \
      name, zk::cuda::map1<Op>,                                                \
      xla::ffi::Ffi::Bind()                                                    \
          .Ctx<xla::ffi::PlatformStream<cudaStream_t>>()                       \
          .Arg<xla::ffi::Buffer<xla::ffi::U32>>()                              \
          .Ret<xla::ffi::Buffer<xla::ffi::U32>>(),                             \
      ZK_CMD_BUFFER)
#define ZK_CUDA_MAP2(name, Op)                                                  \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(                                               \
      name, zk::cuda::map2<Op>,                                                \
      xla::ffi::Ffi::Bind()                                                    \
          .Ctx<xla::ffi::PlatformStream<cudaStream_t>>()                       \
          .Arg<xla::ffi::Buffer<xla::ffi::U32>>()                              \
          .Arg<xla::ffi::Buffer<xla::ffi::U32>>()                              \
          .Ret<xla::ffi::Buffer<xla::ffi::U32>>(),                             \
      ZK_CMD_BUFFER)
