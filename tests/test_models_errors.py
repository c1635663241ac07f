"""Bad input gives a clear error naming the file, tensor or value (no torch needed here)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from zkllm_jax.models import (
    FixedPointConfig,
    FixedPointRangeError,
    LlamaConfig,
    ModelFormatError,
    build_tables,
    load_model,
    quantize_params,
    run,
)
from zkllm_jax.models.convert import expected_shapes

CFG = LlamaConfig(
    vocab_size=48,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    rms_norm_eps=1e-5,
    max_position_embeddings=32,
)
FX = FixedPointConfig()


def flat_tensors(cfg: LlamaConfig, seed: int = 0, scale: float = 0.2) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in expected_shapes(cfg).items():
        names = (
            [name]
            if "." in name and name.split(".")[0] in ("model", "lm_head")
            else [f"model.layers.{i}.{name}" for i in range(cfg.num_hidden_layers)]
        )
        for n in names:
            base = 1.0 if "norm" in n else 0.0
            out[n] = (base + scale * rng.standard_normal(shape)).astype(np.float32)
    return out


def write_checkpoint(path, cfg=CFG, tensors=None, config=None):
    from safetensors.numpy import save_file

    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(config if config is not None else cfg.to_dict()))
    save_file(
        tensors if tensors is not None else flat_tensors(cfg), str(path / "model.safetensors")
    )
    return path


def test_good_checkpoint_loads(tmp_path):
    m = load_model(write_checkpoint(tmp_path / "ok"))
    assert m.cfg == CFG


def test_missing_config(tmp_path):
    p = write_checkpoint(tmp_path / "m")
    (p / "config.json").unlink()
    with pytest.raises(ModelFormatError, match="config.json: config file not found"):
        load_model(p)


def test_malformed_config(tmp_path):
    p = write_checkpoint(tmp_path / "m")
    (p / "config.json").write_text("{not json")
    with pytest.raises(ModelFormatError, match=r"config.json: malformed JSON"):
        load_model(p)
    (p / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 32}))
    with pytest.raises(ModelFormatError, match="missing required field.*vocab_size"):
        load_model(p)


@pytest.mark.parametrize(
    "patch,needle",
    [
        (
            {"architectures": ["MistralForCausalLM"]},
            "unsupported architecture 'MistralForCausalLM'",
        ),
        ({"model_type": "gpt2"}, "unsupported model_type 'gpt2'"),
        ({"hidden_act": "gelu"}, "unsupported hidden_act 'gelu'"),
        ({"rope_scaling": {"rope_type": "llama3", "factor": 8.0}}, "unsupported rope_scaling"),
        ({"attention_bias": True}, "unsupported attention_bias"),
    ],
)
def test_unsupported_architecture(tmp_path, patch, needle):
    cfg = dict(CFG.to_dict(), **patch)
    p = write_checkpoint(tmp_path / "m", config=cfg)
    with pytest.raises(ModelFormatError, match=needle):
        load_model(p)


def test_missing_and_malformed_safetensors(tmp_path):
    p = write_checkpoint(tmp_path / "m")
    (p / "model.safetensors").unlink()
    with pytest.raises(ModelFormatError, match="no model.safetensors"):
        load_model(p)
    (p / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00garbage!")
    with pytest.raises(ModelFormatError, match=r"model.safetensors: malformed safetensors"):
        load_model(p)


def test_missing_and_misshapen_tensor(tmp_path):
    t = flat_tensors(CFG)
    del t["model.layers.1.mlp.up_proj.weight"]
    with pytest.raises(
        ModelFormatError, match=r"missing tensor 'model.layers.1.mlp.up_proj.weight'"
    ):
        load_model(write_checkpoint(tmp_path / "a", tensors=t))
    t = flat_tensors(CFG)
    t["model.layers.0.self_attn.k_proj.weight"] = np.zeros((32, 32), np.float32)
    with pytest.raises(
        ModelFormatError,
        match=r"'model.layers.0.self_attn.k_proj.weight' has shape \(32, 32\), "
        r"expected \(16, 32\)",
    ):
        load_model(write_checkpoint(tmp_path / "b", tensors=t))


def test_malformed_and_foreign_gguf(tmp_path):
    import gguf

    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 40)
    with pytest.raises(ModelFormatError, match=r"bad.gguf: malformed GGUF"):
        load_model(bad)
    with pytest.raises(ModelFormatError, match="nope.gguf: no such file"):
        load_model(tmp_path / "nope.gguf")
    other = tmp_path / "gpt2.gguf"
    w = gguf.GGUFWriter(str(other), "gpt2")
    w.add_block_count(1)
    w.add_tensor("token_embd.weight", np.zeros((4, 8), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with pytest.raises(ModelFormatError, match="unsupported GGUF architecture 'gpt2'"):
        load_model(other)


def test_unknown_model_argument(tmp_path):
    f = tmp_path / "weights.bin"
    f.write_bytes(b"x")
    with pytest.raises(ModelFormatError, match="unrecognised model"):
        load_model(f)
    with pytest.raises(ModelFormatError, match="no such file"):
        load_model(tmp_path / "missing")


def test_weight_outside_fixed_point_range(tmp_path):
    t = flat_tensors(CFG)
    t["model.layers.1.mlp.down_proj.weight"][3, 5] = 300.0
    m = load_model(write_checkpoint(tmp_path / "m", tensors=t))
    with pytest.raises(
        FixedPointRangeError, match=r"weight model.layers.1.mlp.down_proj.weight: \|w\| reaches 300"
    ):
        quantize_params(m.params, m.cfg, FX)


@pytest.mark.parametrize("stream", [False, True])
def test_activation_outside_fixed_point_range(tmp_path, stream):
    t = flat_tensors(CFG)
    for i in range(CFG.num_hidden_layers):
        t[f"model.layers.{i}.post_attention_layernorm.weight"][:] = 100.0
        t[f"model.layers.{i}.mlp.gate_proj.weight"][:] = 100.0
    m = load_model(write_checkpoint(tmp_path / "m", tensors=t)).to_fixed(FX)
    toks = np.arange(8, dtype=np.int32)
    with pytest.raises(
        FixedPointRangeError, match=r"model.layers.0.mlp.gate_proj.out: \|value\| reached"
    ):
        run(
            m.params,
            build_tables(m.cfg, FX, 8),
            toks,
            cfg=m.cfg,
            fx=FX,
            mode="fixed",
            with_witness=stream,
            stream=stream,
        )
    with pytest.raises(ValueError, match="stream=True needs mode='fixed' and with_witness=True"):
        run(m.params, {}, toks, cfg=m.cfg, fx=FX, mode="fixed", with_witness=False, stream=True)


def test_bad_tokens_and_length():
    with pytest.raises(FixedPointRangeError, match=r"token id 48 outside the vocabulary \[0, 48\)"):
        run({}, {}, np.array([1, 48]), cfg=CFG, fx=FX, mode="fixed")
    with pytest.raises(ValueError, match="exceeds max_position_embeddings=32"):
        build_tables(CFG, FX, 33)


def test_cli_reports_bad_model(tmp_path, capsys):
    from zkllm_jax.cli import main

    assert main(["run", "--model", str(tmp_path / "missing"), "--prompt", "hi"]) == 2
    assert "missing: no such file or directory" in capsys.readouterr().err
    p = write_checkpoint(tmp_path / "notok")
    assert main(["run", "--model", str(p), "--prompt", "hi"]) == 2
    assert "no tokenizer" in capsys.readouterr().err
