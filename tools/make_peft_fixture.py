#!/usr/bin/env python3
"""A PEFT LoRA adapter directory for tests/io: a tiny GPT plus a rank-2 LoRA, made the PEFT way.

Writes tests/fixtures/peft_fixture/:

  base_model.safetensors      the base GPT of tools/make_gpt_golden.py (same architecture and the
                              same weights, rounded to float32), in everlora's parameter names, with
                              the "everlora.gpt_config" metadata io/gpt_checkpoint.hpp reads
  adapter_model.safetensors   LoRA on attn.q, attn.v and mlp.fc1 of both blocks, rank 2, alpha 4:
                              base_model.model.<module>.lora_A.weight [r, in] and .lora_B.weight
                              [out, r], float32, metadata {"format": "pt"}, as PEFT's
                              save_pretrained writes them (A and B both non-zero)
  adapter_config.json         the LoraConfig, as PEFT writes it (json.dumps, indent 2, sorted keys)
  expected.txt                a batch of ids, and the logits of the base model and of the adapted
                              model (float64 forward over the float32-rounded weights)

The adapted forward is PEFT's: y = x·Wᵀ + b + scale·(x·Aᵀ)·Bᵀ with scale = lora_alpha / r; it is
cross-checked against the merged weights W + scale·B·A.

Neither `peft` nor `safetensors` is needed: the safetensors files are laid out by hand following the
reference writer (see tools/make_safetensors_fixture.py). Rerun (needs torch; 1.13 was used):

    /usr/bin/python3 tools/make_peft_fixture.py

expected.txt, one record per line, '#' starts a comment, floats as %.17g:

    ids <B> <T> <values..>
    base_logits <rank> <dims..> <values..>
    logits <rank> <dims..> <values..>
"""

import json
import os
import struct
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_golden as mg  # noqa: E402  (seeds torch; randn, causal_attention, fmt_float)
import make_gpt_golden as gg  # noqa: E402  (the tiny GPT: sizes, init_params, gpt_forward)

OUT_DIR = os.path.join(mg.ROOT, "tests", "fixtures", "peft_fixture")
RANK, ALPHA = 2, 4
SCALE = ALPHA / RANK
TARGETS = ["q", "v", "fc1"]  # PEFT target_modules: matched as a path suffix
IDS = [[1, 5, 9, 3, 14, 0], [7, 2, 2, 11, 4, 15]]
GPT_CONFIG = {"vocab_size": gg.VOCAB, "context": gg.CONTEXT, "d_model": gg.D,
              "n_layers": gg.LAYERS, "n_heads": gg.HEADS, "ffn_mult": 4, "dropout": 0.0, "seed": 0}


def to_f32(t):
    """Rounds to float32 and back: the values the files hold, exactly."""
    return t.float().double()


def lora_params(params):
    """module path -> (A [r, in], B [out, r]) for every targeted Linear, both non-zero."""
    out = {}
    for i in range(gg.LAYERS):
        for path in ("blocks.%d.attn.q" % i, "blocks.%d.attn.v" % i, "blocks.%d.mlp.fc1" % i):
            w = params[path + ".weight"]
            a = to_f32(mg.randn(RANK, w.shape[1]) * 0.5)
            b = to_f32(mg.randn(w.shape[0], RANK) * 0.5)
            out[path] = (a, b)
    return out


def linear(p, lora, path, x):
    """PEFT's LoRA Linear forward: base, plus scale·(x·Aᵀ)·Bᵀ when the layer is adapted."""
    y = F.linear(x, p[path + ".weight"], p.get(path + ".bias"))
    if path in lora:
        a, b = lora[path]
        y = y + SCALE * F.linear(F.linear(x, a), b)
    return y


def adapted_forward(p, lora, ids):
    """gg.gpt_forward with every Linear going through linear() above."""
    D = gg.D
    x = p["wte.weight"][ids] + p["wpe.weight"][torch.arange(ids.shape[1])]
    for i in range(gg.LAYERS):
        b = "blocks.%d." % i
        h = F.layer_norm(x, (D,), p[b + "ln1.weight"], p[b + "ln1.bias"], 1e-5)
        q, k, v = (linear(p, lora, b + "attn." + n, h) for n in "qkv")
        att = mg.causal_attention(q, k, v, gg.HEADS)
        x = x + linear(p, lora, b + "attn.o", att)
        h = F.layer_norm(x, (D,), p[b + "ln2.weight"], p[b + "ln2.bias"], 1e-5)
        h = F.gelu(linear(p, lora, b + "mlp.fc1", h), approximate="tanh")
        x = x + linear(p, lora, b + "mlp.fc2", h)
    x = F.layer_norm(x, (D,), p["ln_f.weight"], p["ln_f.bias"], 1e-5)
    return F.linear(x, p["head.weight"])


def write_safetensors(path, tensors, metadata):
    """All tensors F32, so the reference order is by name; compact JSON padded to 8 bytes."""
    header = {"__metadata__": metadata}
    data = b""
    for name in sorted(tensors, key=lambda n: n.encode("utf-8")):
        t = tensors[name]
        raw = struct.pack("<%df" % t.numel(), *t.reshape(-1).tolist())
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def adapter_config():
    """The fields PEFT's LoraConfig writes (defaults except r, alpha, targets, task)."""
    return {
        "alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": None,
        "bias": "none", "corda_config": None, "eva_config": None, "exclude_modules": None,
        "fan_in_fan_out": False, "inference_mode": True, "init_lora_weights": True,
        "layer_replication": None, "layers_pattern": None, "layers_to_transform": None,
        "loftq_config": {}, "lora_alpha": ALPHA, "lora_bias": False, "lora_dropout": 0.0,
        "megatron_config": None, "megatron_core": "megatron.core", "modules_to_save": None,
        "peft_type": "LORA", "r": RANK, "rank_pattern": {}, "revision": None,
        "target_modules": TARGETS, "task_type": "CAUSAL_LM", "trainable_token_indices": None,
        "use_dora": False, "use_rslora": False,
    }


def tensor_line(tag, t):
    fields = [tag, str(t.dim())] + [str(d) for d in t.shape]
    return " ".join(fields + [mg.fmt_float(v) for v in t.reshape(-1).tolist()])


def main():
    torch.set_num_threads(1)  # the same float64 reduction order on every run: byte-identical files
    params = {k: to_f32(v) for k, v in gg.init_params().items()}
    lora = lora_params(params)
    ids = torch.tensor(IDS)
    base = gg.gpt_forward(params, ids)
    logits = adapted_forward(params, lora, ids)
    assert torch.allclose(adapted_forward(params, {}, ids), base, rtol=0, atol=1e-12)
    merged = dict(params)
    for path, (a, b) in lora.items():
        merged[path + ".weight"] = params[path + ".weight"] + SCALE * (b @ a)
    assert torch.allclose(gg.gpt_forward(merged, ids), logits, rtol=0, atol=1e-12)
    assert (logits - base).abs().max() > 0.1, "the adapter should change the logits visibly"

    os.makedirs(OUT_DIR, exist_ok=True)
    write_safetensors(os.path.join(OUT_DIR, "base_model.safetensors"), params,
                      {"format": "pt",
                       "everlora.gpt_config": json.dumps(GPT_CONFIG, separators=(",", ":"))})
    adapter = {}
    for path, (a, b) in lora.items():
        adapter["base_model.model." + path + ".lora_A.weight"] = a
        adapter["base_model.model." + path + ".lora_B.weight"] = b
    write_safetensors(os.path.join(OUT_DIR, "adapter_model.safetensors"), adapter, {"format": "pt"})
    with open(os.path.join(OUT_DIR, "adapter_config.json"), "w") as f:
        f.write(json.dumps(adapter_config(), indent=2, sort_keys=True))

    lines = ["# PEFT fixture expectations, written by tools/make_peft_fixture.py (PyTorch %s, "
             "float64) -- do not edit." % torch.__version__,
             " ".join(["ids", str(ids.shape[0]), str(ids.shape[1])] +
                      [str(v) for v in ids.reshape(-1).tolist()]),
             tensor_line("base_logits", base), tensor_line("logits", logits)]
    with open(os.path.join(OUT_DIR, "expected.txt"), "w", newline="\n") as f:
        f.write("\n".join(lines) + "\n")
    total = sum(os.path.getsize(os.path.join(OUT_DIR, n)) for n in os.listdir(OUT_DIR))
    print("wrote %s: %d bytes in %d files" % (os.path.relpath(OUT_DIR, mg.ROOT), total,
                                              len(os.listdir(OUT_DIR))))


if __name__ == "__main__":
    main()
