"""Repository rules that let Debian's Bazel 4.2.3 build this project offline.

local_python: the native module compiles against three things that live in a Python environment,
not in this repository: the CPython headers, the XLA FFI headers shipped inside jaxlib, and
nanobind's sources. Which environment is meant is a property of the machine, so this rule asks
that interpreter where they are and links them into an external repository, @local_python.

Interpreter: $ZKLLM_PYTHON if set (e.g. `--repo_env=ZKLLM_PYTHON=/path/to/python`), else
`python3` on PATH. Bazel 4 has no hermetic Python here (no network for rules_python), and the
extension must match the interpreter that will import it anyway.
"""

# Printed one per line: CPython include dir, XLA FFI include dir, nanobind package dir.
_PROBE = """
import os, sysconfig
import jax, nanobind
print(sysconfig.get_paths()["include"])
print(jax.ffi.include_dir())
print(os.path.dirname(os.path.abspath(nanobind.__file__)))
"""

# nanobind's core library, as its CMake helper (nanobind_build_library) compiles it: every source
# except the single-file bundle (nb_combined), the split-mode backend entry point (nb_backend)
# and free-threading support (nb_ft; this build targets the GIL interpreter).
_BUILD = """
package(default_visibility = ["//visibility:public"])

cc_library(
    name = "python_headers",
    hdrs = glob(["python_include/**/*.h"]),
    includes = ["python_include"],
)

cc_library(
    name = "xla_ffi_headers",
    hdrs = glob(["jaxlib_include/xla/ffi/api/*.h"]),
    includes = ["jaxlib_include"],
)

cc_library(
    name = "nanobind",
    srcs = glob(
        ["nanobind/src/*.cpp"],
        exclude = [
            "nanobind/src/nb_backend.cpp",
            "nanobind/src/nb_combined.cpp",
            "nanobind/src/nb_ft.cpp",
        ],
    ) + glob(["nanobind/src/*.h"]),
    hdrs = glob([
        "nanobind/include/**/*.h",
        "nanobind/ext/robin_map/include/**/*.h",
    ]),
    includes = [
        "nanobind/include",
        "nanobind/ext/robin_map/include",
    ],
    # Flags of nanobind's own CMake build: it type-puns CPython objects, and the core is linked
    # into one module, so keep its symbols private.
    copts = [
        "-std=c++17",
        "-O3",
        "-fvisibility=hidden",
        "-fno-strict-aliasing",
    ],
    local_defines = ["NB_BUILD", "NB_COMPACT_ASSERTIONS"],
    deps = [":python_headers"],
)
"""

def _local_python_impl(ctx):
    python = ctx.os.environ.get("ZKLLM_PYTHON", "") or ctx.which("python3")
    if not python:
        fail("no Python interpreter: set ZKLLM_PYTHON or put python3 on PATH")
    result = ctx.execute([str(python), "-c", _PROBE])
    if result.return_code != 0:
        fail("{} could not locate the build dependencies (jax, nanobind must be installed):\n{}"
            .format(python, result.stderr))
    lines = result.stdout.strip().splitlines()
    if len(lines) != 3:
        fail("unexpected output from {}: {}".format(python, result.stdout))
    python_include, xla_include, nanobind_dir = lines
    for required in [python_include + "/Python.h", xla_include + "/xla/ffi/api/ffi.h",
                     nanobind_dir + "/include/nanobind/nanobind.h"]:
        if not ctx.path(required).exists:
            fail("{} is missing (interpreter {}): install the Python development headers, "
                .format(required, python) + "jaxlib and nanobind for it")
    ctx.symlink(python_include, "python_include")
    ctx.symlink(xla_include, "jaxlib_include")
    ctx.symlink(nanobind_dir, "nanobind")
    ctx.file("WORKSPACE", "workspace(name = \"{}\")\n".format(ctx.name))
    ctx.file("BUILD", _BUILD)

local_python = repository_rule(
    implementation = _local_python_impl,
    environ = ["ZKLLM_PYTHON", "PATH"],
    # The paths belong to the machine's Python environment; re-probe on every server start.
    local = True,
)

# native_rules: Bazel 4's own BUILD files (@bazel_tools//tools/cpp, tools/jdk) load rules such
# as cc_toolchain and java_toolchain from @rules_cc and @rules_java, which its default WORKSPACE
# downloads from GitHub. At the versions Bazel 4 pins, those are thin forwards to the native
# rules, so offline stand-ins only need to forward them too. (Debian's bazel-rules-cc package is
# newer and needs a newer Bazel: it loads use_cpp_toolchain, which Bazel 4's @bazel_tools lacks.)
def _native_rules_impl(ctx):
    defs = "".join([
        "def {0}(**kwargs):\n    native.{0}(**kwargs)\n\n".format(rule)
        for rule in ctx.attr.rules
    ])
    ctx.file("WORKSPACE", "workspace(name = \"{}\")\n".format(ctx.name))
    ctx.file("BUILD", "")
    ctx.file(ctx.attr.package + "/BUILD", "")
    ctx.file(ctx.attr.package + "/defs.bzl", defs)

native_rules = repository_rule(
    implementation = _native_rules_impl,
    attrs = {
        "package": attr.string(mandatory = True),
        "rules": attr.string_list(mandatory = True),
    },
)
