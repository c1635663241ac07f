// Fr handlers for CUDA.
#include "cuda/map_cuda.cuh"
#include "zkllm/ops.h"

ZK_CUDA_MAP2(zk_fr_add_cuda, zk::ops::FrAdd);
ZK_CUDA_MAP2(zk_fr_sub_cuda, zk::ops::FrSub);
ZK_CUDA_MAP2(zk_fr_mul_cuda, zk::ops::FrMul);
ZK_CUDA_MAP2(zk_fr_pow_cuda, zk::ops::FrPow);
ZK_CUDA_MAP1(zk_fr_neg_cuda, zk::ops::FrNeg);
ZK_CUDA_MAP1(zk_fr_to_mont_cuda, zk::ops::FrToMont);
ZK_CUDA_MAP1(zk_fr_from_mont_cuda, zk::ops::FrFromMont);
ZK_CUDA_MAP1(zk_fr_from_wide_cuda, zk::ops::FrFromWide);
ZK_CUDA_MAP1(zk_fr_from_i32_cuda, zk::ops::FrFromI32);
