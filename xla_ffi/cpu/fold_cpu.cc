// fr_fold_rows_i32: eᵀ·M for an int32 matrix M [rows, cols] (as uint32 bits) and a field vector
// e [rows, 8] -> Fr [cols, 8]; the fold of a Hyrax opening (zkllm/fold_i32.h).
#include <algorithm>
#include <vector>

#include "xla/ffi/api/ffi.h"
#include "zkllm/fold_i32.h"
#include "zkllm/parallel.h"

namespace ffi = xla::ffi;
using zk::Fr;
namespace fi = zk::fold_i32;

namespace {

// Columns per task: the accumulators (48 bytes per column) of one task stay in L1/L2 while
// the task walks down the rows.
constexpr size_t kColBlock = 256;

ffi::Error FoldRowsI32(ffi::Buffer<ffi::U32> m, ffi::Buffer<ffi::U32> e,
                       ffi::ResultBuffer<ffi::U32> o) {
  const size_t cols = o->element_count() / 8;
  const size_t rows = e.element_count() / 8;
  if (!fi::shapes_ok(m.element_count(), e.element_count(), o->element_count()))
    return ffi::Error::InvalidArgument(fi::kShapeError);
  const uint32_t* pm = m.typed_data();
  const uint32_t* pe = e.typed_data();
  uint32_t* po = o->typed_data();
  uint32_t s[fi::kWide] = {0};
  for (size_t i = 0; i < rows; ++i) fi::mac(s, pe + 8 * i, 1u);
  const Fr mont_k = fi::offset(s);
  const size_t blocks = (cols + kColBlock - 1) / kColBlock;
  zk::parallel_dynamic(blocks, [&](size_t b) {
    const size_t j0 = b * kColBlock, j1 = std::min(cols, j0 + kColBlock);
    std::vector<uint32_t> acc((j1 - j0) * fi::kWide, 0u);
    for (size_t i = 0; i < rows; ++i) {
      const uint32_t* ei = pe + 8 * i;
      const uint32_t* mi = pm + i * cols;
      for (size_t j = j0; j < j1; ++j) fi::mac(&acc[(j - j0) * fi::kWide], ei, fi::biased(mi[j]));
    }
    for (size_t j = j0; j < j1; ++j) fi::finish(&acc[(j - j0) * fi::kWide], mont_k).store(po + 8 * j);
  });
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(zk_fr_fold_rows_i32_cpu, FoldRowsI32,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>());
