// The nanobind module of one back end: registrations() maps each target name to a capsule of
// its handler. ZK_BACKEND is cpu or cuda, set by CMake.
#include <nanobind/nanobind.h>

#include "xla/ffi/api/c_api.h"

#define ZK_CAT2(a, b, c) a##b##c
#define ZK_CAT(a, b, c) ZK_CAT2(a, b, c)
#define ZK_TARGET(name) \
  extern "C" XLA_FFI_Error* ZK_CAT(zk_##name, _, ZK_BACKEND)(XLA_FFI_CallFrame*);
#include "targets.def"
#undef ZK_TARGET

namespace nb = nanobind;

NB_MODULE(ZK_MODULE_NAME, m) {
  m.def("registrations", []() {
    nb::dict d;
#define ZK_TARGET(name) \
  d["zk_" #name] = nb::capsule(reinterpret_cast<void*>(&ZK_CAT(zk_##name, _, ZK_BACKEND)));
#include "targets.def"
#undef ZK_TARGET
    return d;
  });
}
