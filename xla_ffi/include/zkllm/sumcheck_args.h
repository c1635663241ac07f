#pragma once
// Argument checks shared by the CPU and CUDA sumcheck handlers (host code only).
#include <cstdint>
#include <string>

#include "xla/ffi/api/ffi.h"
#include "zkllm/sumcheck.h"

namespace zk::sumcheck_args {

namespace ffi = xla::ffi;
namespace sc = zk::sumcheck;

// Tables are [K, n, 8] with n a power of two of at least min_n.
inline ffi::Error table_dims(size_t words, size_t K, size_t min_n, size_t& n) {
  if (words % (8 * K)) return ffi::Error::InvalidArgument("sumcheck: tables are not [K, n, 8]");
  n = words / (8 * K);
  if (n < min_n || (n & (n - 1)))
    return ffi::Error::InvalidArgument("sumcheck: table length must be a power of two >= " +
                                       std::to_string(min_n) + ", got " + std::to_string(n));
  return ffi::Error::Success();
}

// The static term structure and the coefficients [T, 8] of a sum-of-products instance.
inline ffi::Error decode(ffi::Span<const int64_t> terms, int64_t num_tables, int64_t has_eq,
                  const ffi::Buffer<ffi::U32>& coeffs, size_t num_evals, sc::Terms& tm) {
  if (coeffs.element_count() % 8)
    return ffi::Error::InvalidArgument("sumcheck: coefficients are not [T, 8]");
  std::string err = sc::decode_terms(terms.begin(), terms.size(), num_tables, has_eq,
                                     coeffs.element_count() / 8, num_evals, tm);
  if (!err.empty()) return ffi::Error::InvalidArgument("sumcheck: " + err);
  return ffi::Error::Success();
}

}  // namespace zk::sumcheck_args
