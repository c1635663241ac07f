"""The Bazel build (BUILD, WORKSPACE) builds offline and yields the same module as CMake.

Runs Debian's Bazel 4 in a throw-away output base (a cold build: about 2 minutes on 2 cores),
then loads the Bazel-built CPU module and compares its targets with targets.def and with the
pip-installed module, and runs the Bazel-built Python package (//:zkllm_jax_py_check).
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("bazel") is None,
        reason="bazel is not on PATH (Debian: apt-get install bazel-bootstrap)",
    ),
]


def _targets_def() -> set[str]:
    text = (REPO / "xla_ffi" / "targets.def").read_text()
    return {f"zk_{name}" for name in re.findall(r"^ZK_TARGET\((\w+)\)", text, re.MULTILINE)}


class _Bazel:
    """One Bazel server on a private output base, against the interpreter running pytest."""

    def __init__(self, output_base: str) -> None:
        self.startup = ["bazel", "--nohome_rc", f"--output_base={output_base}",
                        "--max_idle_secs=60"]
        # The Python environment the build draws headers from, and the py_binary runs on.
        self.env = dict(os.environ, ZKLLM_PYTHON=sys.executable,
                        PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])

    def __call__(self, *args: str) -> str:
        proc = subprocess.run([*self.startup, *args], cwd=REPO, env=self.env, check=False,
                              capture_output=True, text=True, timeout=1500)
        if proc.returncode != 0:
            pytest.fail(f"bazel {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-6000:]}")
        return proc.stdout


@pytest.fixture(scope="module")
def bazel_bin() -> Iterator[Path]:
    if not (REPO / "WORKSPACE").is_file():
        pytest.skip(f"no Bazel workspace at {REPO} (tests run outside the repository)")
    output_base = tempfile.mkdtemp(prefix="zkllm-bazel-")
    bazel = _Bazel(output_base)
    try:
        # --symlink_prefix=/: no bazel-* links in the working tree pointing into a temp dir.
        bazel("build", "--symlink_prefix=/", "//:native_cpu", "//:zkllm_jax_py_check")
        yield Path(bazel("info", "bazel-bin").strip())
    finally:
        # Deletes the read-only output tree and stops the server.
        subprocess.run([*bazel.startup, "clean", "--expunge"], cwd=REPO, env=bazel.env,
                       check=False, capture_output=True, timeout=300)
        shutil.rmtree(output_base, ignore_errors=True)


def _load(path: Path) -> types.ModuleType:
    loader = importlib.machinery.ExtensionFileLoader("_native_cpu", str(path))
    spec = importlib.util.spec_from_file_location("_native_cpu", path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_bazel_module_registers_every_target(bazel_bin: Path) -> None:
    built = _load(bazel_bin / "zkllm_jax" / "_native_cpu.so")
    names = set(built.registrations())
    assert names == _targets_def(), "Bazel-built module disagrees with xla_ffi/targets.def"
    installed = importlib.import_module("zkllm_jax._native_cpu")
    assert names == set(installed.registrations()), (
        f"Bazel-built module differs from the pip-installed {installed.__file__} "
        "(reinstall the package if the working tree changed since)"
    )


def test_bazel_python_package_runs(bazel_bin: Path) -> None:
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    proc = subprocess.run([str(bazel_bin / "zkllm_jax_py_check")], env=env, check=False,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:] + proc.stdout[-2000:]
    assert ".runfiles" in proc.stdout and proc.stdout.startswith("ok:"), proc.stdout
