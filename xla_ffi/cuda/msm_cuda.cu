// G1 multi-scalar multiplication on CUDA: the steps of msm_pipeline.h as kernels on XLA's
// stream, with CUB's radix sort for the (bucket, point) pairs. Scratch memory comes from XLA
// (ffi::ScratchAllocator); nothing here allocates, synchronises or copies to the host.
//
// Semantics equal the CPU handlers in cpu/curve_cpu.cc: points [mp, n, 36] Jacobian, scalars
// [ms, n, 8] Montgomery Fr or int32 [ms, n] (a negative scalar subtracts its point), mp and ms
// each 1 (shared by every row) or m; output [m, 36] Jacobian. The output's Jacobian limbs may
// differ from the CPU's; the represented points are equal.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cub/device/device_radix_sort.cuh>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "cuda/map_cuda.cuh"
#include "cuda/msm_pipeline.h"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;
namespace msm = zk::msm;

namespace {

constexpr unsigned kThreads = 128;  // G1 arithmetic needs many registers per thread

template <class F>
__global__ void __launch_bounds__(kThreads) step_kernel(F f, size_t count) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count;
       i += (size_t)gridDim.x * blockDim.x)
    f(i);
}

struct CudaStatus {
  const char* what = nullptr;
  cudaError_t err = cudaSuccess;
  bool ok() const { return what == nullptr; }
};

// With ZKLLM_CUDA_PROFILE=1 in the environment, every step records an event and the call waits
// for its end and prints the time per step to stderr: a diagnostic mode that synchronises.
struct Profile {
  bool on = false;
  cudaEvent_t start{};
  std::vector<std::pair<const char*, cudaEvent_t>> marks;

  void begin(cudaStream_t s) {
    const char* env = std::getenv("ZKLLM_CUDA_PROFILE");
    on = env != nullptr && env[0] == '1';
    if (on && (cudaEventCreate(&start) != cudaSuccess || cudaEventRecord(start, s) != cudaSuccess))
      on = false;
  }
  void mark(const char* name, cudaStream_t s) {
    if (!on) return;
    cudaEvent_t e;
    if (cudaEventCreate(&e) == cudaSuccess && cudaEventRecord(e, s) == cudaSuccess)
      marks.emplace_back(name, e);
  }
  void report(const char* what, size_t m, size_t n) {
    if (!on) return;
    if (!marks.empty() && cudaEventSynchronize(marks.back().second) == cudaSuccess) {
      std::vector<std::pair<const char*, float>> total;
      cudaEvent_t prev = start;
      float all = 0;
      for (auto& mark : marks) {
        const char* name = mark.first;
        cudaEvent_t e = mark.second;
        float ms = 0;
        cudaEventElapsedTime(&ms, prev, e);
        all += ms;
        prev = e;
        auto it = std::find_if(total.begin(), total.end(),
                               [&](const auto& t) { return std::strcmp(t.first, name) == 0; });
        if (it == total.end()) {
          total.emplace_back(name, ms);
        } else {
          it->second += ms;
        }
      }
      std::fprintf(stderr, "[zkllm profile] %s m=%zu n=%zu: %.3f ms\n", what, m, n, all);
      for (auto& [name, ms] : total) std::fprintf(stderr, "  %-40s %9.3f ms\n", name, ms);
    }
    for (auto& me : marks) cudaEventDestroy(me.second);
    cudaEventDestroy(start);
    marks.clear();
    on = false;
  }
};

struct CudaExec {
  cudaStream_t stream;
  void* sort_temp;
  size_t sort_temp_bytes;
  Profile* profile = nullptr;

  template <class F>
  CudaStatus launch(size_t count, const F& f) {
    if (count == 0) return {};
    size_t blocks = (count + kThreads - 1) / kThreads;
    if (blocks > (size_t{1} << 20)) blocks = size_t{1} << 20;
    const auto& step = msm::launchable(f);
    using Step = std::decay_t<decltype(step)>;
    step_kernel<Step><<<(unsigned)blocks, kThreads, 0, stream>>>(step, count);
    cudaError_t e = cudaGetLastError();
    if (profile) profile->mark(msm::step_name(step), stream);
    return e == cudaSuccess ? CudaStatus{} : CudaStatus{msm::step_name(step), e};
  }
  CudaStatus sort(const uint32_t* ki, uint32_t* ko, const uint32_t* vi, uint32_t* vo, size_t n,
                  int key_bits) {
    size_t bytes = sort_temp_bytes;
    cudaError_t e = cub::DeviceRadixSort::SortPairs(sort_temp, bytes, ki, ko, vi, vo, (int)n, 0,
                                                    key_bits, stream);
    if (e == cudaSuccess) e = cudaGetLastError();
    if (profile) profile->mark("msm: radix sort", stream);
    return e == cudaSuccess ? CudaStatus{} : CudaStatus{"msm: radix sort", e};
  }
  CudaStatus zero(uint32_t* p, size_t words) {
    cudaError_t e = cudaMemsetAsync(p, 0, words * sizeof(uint32_t), stream);
    if (profile) profile->mark("msm: memset", stream);
    return e == cudaSuccess ? CudaStatus{} : CudaStatus{"msm: memset", e};
  }
};

ffi::Error status_error(const CudaStatus& s) {
  if (s.ok()) return ffi::Error::Success();
  return ffi::Error::Internal(std::string(s.what) + ": " + cudaGetErrorName(s.err) + " (" +
                              cudaGetErrorString(s.err) + ")");
}

ffi::Error msm_batched(cudaStream_t stream, ffi::ScratchAllocator& scratch, const uint32_t* pts,
                       size_t pcount, const uint32_t* fr, const int32_t* i32, size_t scount,
                       uint32_t* out, size_t ocount, int32_t i32_bits = 32) {
  const size_t sw = fr ? 8 : 1;
  if (ocount % msm::kJacWords || pcount % msm::kJacWords || scount % sw)
    return ffi::Error::InvalidArgument("msm: operand sizes are not whole points / scalars");
  const size_t m = ocount / msm::kJacWords;
  if (m == 0) return ffi::Error::Success();
  const size_t pm = pcount / msm::kJacWords, sm = scount / sw;
  const size_t big = sm > pm ? sm : pm;
  const size_t n = big / m;
  if (big % m || !(pm == n || pm == m * n) || !(sm == n || sm == m * n))
    return ffi::Error::InvalidArgument("msm: points and scalars do not match the output batch");
  CudaExec ex{stream, nullptr, 0};
  if (n == 0) return status_error(ex.launch(m, msm::FillIdentity{out, m}));

  msm::Plan plan;
  if (!msm::make_plan(m, n, pm == n, sm == n, fr ? msm::ScalarKind::kFr : msm::ScalarKind::kI32,
                      plan, i32_bits))
    return ffi::Error::InvalidArgument(
        "msm: too many terms per MSM for 31-bit indices, or bits outside [2, 32]");
  const msm::Layout layout = msm::make_layout(plan);

  size_t temp_bytes = 0;
  cudaError_t e = cub::DeviceRadixSort::SortPairs(
      nullptr, temp_bytes, static_cast<const uint32_t*>(nullptr), static_cast<uint32_t*>(nullptr),
      static_cast<const uint32_t*>(nullptr), static_cast<uint32_t*>(nullptr), (int)plan.entries,
      0, plan.key_bits, stream);
  if (e != cudaSuccess)
    return ffi::Error::Internal(std::string("msm: radix sort size query: ") +
                                cudaGetErrorString(e));
  std::optional<void*> work = zk::cuda::scratch_alloc(scratch, layout.total * sizeof(uint32_t));
  std::optional<void*> temp = zk::cuda::scratch_alloc(scratch, temp_bytes > 0 ? temp_bytes : 1);
  if (!work.has_value() || !temp.has_value())
    return ffi::Error(ffi::ErrorCode::kResourceExhausted,
                      "msm: could not allocate " +
                          std::to_string((layout.total * 4 + temp_bytes) >> 20) +
                          " MiB of scratch memory");
  ex.sort_temp = *temp;
  ex.sort_temp_bytes = temp_bytes;
  Profile profile;
  profile.begin(stream);
  if (profile.on) ex.profile = &profile;
  CudaStatus st = msm::run<CudaExec, CudaStatus>(ex, plan, static_cast<uint32_t*>(*work), pts,
                                                 fr, i32, out);
  profile.report(fr ? "g1_msm" : "g1_msm_i32", m, n);
  return status_error(st);
}

ffi::Error Msm(cudaStream_t stream, ffi::ScratchAllocator scratch, ffi::Buffer<ffi::U32> pts,
               ffi::Buffer<ffi::U32> sc, ffi::ResultBuffer<ffi::U32> o) {
  return msm_batched(stream, scratch, pts.typed_data(), pts.element_count(), sc.typed_data(),
                     nullptr, sc.element_count(), o->typed_data(), o->element_count());
}

// bits: the caller's bound |scalar| <= 2^(bits-1) (curve.msm derives it from the dtype, or is
// given it by a caller that measured its data); it sets the number of windows.
ffi::Error MsmI32(cudaStream_t stream, ffi::ScratchAllocator scratch, ffi::Buffer<ffi::U32> pts,
                  ffi::Buffer<ffi::S32> sc, ffi::ResultBuffer<ffi::U32> o, int32_t bits) {
  return msm_batched(stream, scratch, pts.typed_data(), pts.element_count(), nullptr,
                     sc.typed_data(), sc.element_count(), o->typed_data(), o->element_count(),
                     bits);
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_g1_msm_cuda, Msm,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Ctx<ffi::ScratchAllocator>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>());
XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_g1_msm_i32_cuda, MsmI32,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Ctx<ffi::ScratchAllocator>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::S32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>()
                                  .Attr<int32_t>("bits"));
