#pragma once
// One spelling for functions compiled for both the host and the device.
#if defined(__CUDACC__)
#define ZK_HD __host__ __device__ __forceinline__
#define ZK_HOST_DEVICE __host__ __device__
#else
#define ZK_HD inline
#define ZK_HOST_DEVICE
#endif

#if defined(__CUDA_ARCH__)
#define ZK_DEVICE_PASS 1
#else
#define ZK_DEVICE_PASS 0
#endif

// Full unrolling of the fixed-length limb loops matters: it keeps limbs in registers.
#if defined(__CUDACC__) || defined(__clang__)
#define ZK_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define ZK_UNROLL _Pragma("GCC unroll 16")
#else
#define ZK_UNROLL
#endif
