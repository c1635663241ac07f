// Elementwise G1 handlers for CUDA (the MSM is in msm_cuda.cu).
#include "cuda/map_cuda.cuh"
#include "zkllm/ops.h"

ZK_CUDA_MAP2(zk_g1_add_cuda, zk::ops::G1Add);
ZK_CUDA_MAP1(zk_g1_double_cuda, zk::ops::G1Double);
ZK_CUDA_MAP1(zk_g1_neg_cuda, zk::ops::G1Neg);
ZK_CUDA_MAP2(zk_g1_scalar_mul_cuda, zk::ops::G1ScalarMul);
ZK_CUDA_MAP2(zk_g1_eq_cuda, zk::ops::G1Eq);
ZK_CUDA_MAP1(zk_g1_validate_cuda, zk::ops::G1Validate);
