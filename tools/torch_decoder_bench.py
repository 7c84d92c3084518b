#!/usr/bin/env python3
"""PyTorch's side of benchmarks/hf_model_step: the same real model shape (a Llama/Qwen2 decoder as
transformers' modeling_llama.py / modeling_qwen2.py compute it: RMSNorm, rotary positions, GQA,
SwiGLU, tied embeddings), LoRA r on every projection (PEFT's all-linear, alpha 2r), AdamW on the
LoRA parameters; the same measurements: train tokens/s (median step), greedy prefill and decode
tokens/s over a KV cache, and the peak RSS. Prints one JSON line with hf_model_step's keys.

    OMP_NUM_THREADS=2 /usr/bin/python3 tools/torch_decoder_bench.py --shape smollm2-135m
(scripts/bench_models_vs_torch.sh runs it beside hf_model_step.)
"""

import argparse
import json
import math
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SHAPES = {  # config.json of the real models
    "smollm2-135m": dict(vocab=49152, hidden=576, inter=1536, layers=30, heads=9, kv=3, theta=1e5, eps=1e-5, qkv_bias=False),
    "qwen2.5-0.5b": dict(vocab=151936, hidden=896, inter=4864, layers=24, heads=14, kv=2, theta=1e6, eps=1e-6, qkv_bias=True),
    "qwen2.5-1.5b": dict(vocab=151936, hidden=1536, inter=8960, layers=28, heads=12, kv=2, theta=1e6, eps=1e-6, qkv_bias=True),
    "tiny": dict(vocab=1000, hidden=64, inter=128, layers=2, heads=4, kv=2, theta=1e4, eps=1e-6, qkv_bias=False),
}


class LoraLinear(nn.Module):
    """PEFT's LoRA Linear: base(x) + lora_B(lora_A(x)) * alpha / r, the base frozen."""

    def __init__(self, fan_in, fan_out, bias, r):
        super().__init__()
        self.base = nn.Linear(fan_in, fan_out, bias=bias)
        self.base.weight.requires_grad_(False)
        if bias:
            self.base.bias.requires_grad_(False)
        self.lora_A = nn.Linear(fan_in, r, bias=False)
        self.lora_B = nn.Linear(r, fan_out, bias=False)
        nn.init.zeros_(self.lora_B.weight)
        self.scale = 2.0

    def forward(self, x):
        return self.base(x) + self.lora_B(self.lora_A(x)) * self.scale


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Block(nn.Module):
    def __init__(self, s, r):
        super().__init__()
        C, hd = s["hidden"], s["hidden"] // s["heads"]
        self.s, self.hd = s, hd
        self.ln1 = nn.Parameter(torch.ones(C), requires_grad=False)
        self.ln2 = nn.Parameter(torch.ones(C), requires_grad=False)
        self.q = LoraLinear(C, s["heads"] * hd, s["qkv_bias"], r)
        self.k = LoraLinear(C, s["kv"] * hd, s["qkv_bias"], r)
        self.v = LoraLinear(C, s["kv"] * hd, s["qkv_bias"], r)
        self.o = LoraLinear(s["heads"] * hd, C, False, r)
        self.gate = LoraLinear(C, s["inter"], False, r)
        self.up = LoraLinear(C, s["inter"], False, r)
        self.down = LoraLinear(s["inter"], C, False, r)

    def forward(self, x, cos, sin, cache):
        B, T, _ = x.shape
        H, G, hd = self.s["heads"], self.s["kv"], self.hd
        h = rms_norm(x, self.ln1, self.s["eps"])
        q = self.q(h).view(B, T, H, hd).transpose(1, 2)
        k = self.k(h).view(B, T, G, hd).transpose(1, 2)
        v = self.v(h).view(B, T, G, hd).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        if cache is not None:
            if "k" in cache:
                k, v = torch.cat([cache["k"], k], 2), torch.cat([cache["v"], v], 2)
            cache["k"], cache["v"] = k, v
        k = k.repeat_interleave(H // G, dim=1)
        v = v.repeat_interleave(H // G, dim=1)
        scores = q @ k.transpose(2, 3) / math.sqrt(hd)
        Tk = k.shape[2]
        mask = torch.ones(T, Tk, dtype=torch.bool).tril(diagonal=Tk - T)
        att = F.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1) @ v
        x = x + self.o(att.transpose(1, 2).reshape(B, T, H * hd))
        h = rms_norm(x, self.ln2, self.s["eps"])
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Model(nn.Module):
    def __init__(self, s, r):
        super().__init__()
        self.s = s
        self.embed = nn.Embedding(s["vocab"], s["hidden"])
        self.embed.weight.requires_grad_(False)
        self.blocks = nn.ModuleList(Block(s, r) for _ in range(s["layers"]))
        self.norm = nn.Parameter(torch.ones(s["hidden"]), requires_grad=False)
        hd = s["hidden"] // s["heads"]
        self.inv_freq = 1.0 / (s["theta"] ** (torch.arange(0, hd, 2).float() / hd))

    def forward(self, ids, caches=None, start=0):
        T = ids.shape[1]
        freqs = torch.outer(torch.arange(start, start + T).float(), self.inv_freq)
        emb = torch.cat((freqs, freqs), -1)
        cos, sin = emb.cos(), emb.sin()
        x = self.embed(ids)
        for i, block in enumerate(self.blocks):
            x = block(x, cos, sin, None if caches is None else caches[i])
        return F.linear(rms_norm(x, self.norm, self.s["eps"]), self.embed.weight)  # tied head


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--shape", default="smollm2-135m", choices=sorted(SHAPES))
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--generate", type=int, default=32)
    p.add_argument("--rank", type=int, default=8)
    a = p.parse_args()
    torch.manual_seed(0)
    s = SHAPES[a.shape]
    start = time.perf_counter()
    model = Model(s, a.rank)
    build_s = time.perf_counter() - start
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    params = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-3)
    ids = torch.randint(0, s["vocab"], (a.batch, a.seq))
    losses, times = [], []
    for step in range(a.steps + 1):
        t = time.perf_counter()
        opt.zero_grad()
        logits = model(ids)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, s["vocab"]), ids[:, 1:].reshape(-1))
        loss.backward()
        opt.step()
        if step > 0:
            times.append(time.perf_counter() - t)
        losses.append(loss.item())
    step_s = statistics.median(times)

    def generate(prompt, n):
        with torch.no_grad():
            caches = [dict() for _ in model.blocks]
            logits = model(prompt, caches, 0)
            out, pos = [], prompt.shape[1]
            for _ in range(n):
                nxt = int(logits[0, -1].argmax())
                out.append(nxt)
                if len(out) == n:
                    break
                logits = model(torch.tensor([[nxt]]), caches, pos)
                pos += 1
            return out

    prompt = ids[:1, :min(32, a.seq)]
    t = time.perf_counter()
    generate(prompt, 1)
    prefill = time.perf_counter() - t
    t = time.perf_counter()
    out = generate(prompt, a.generate)
    decode = (time.perf_counter() - t - prefill) / max(1, len(out) - 1)
    print(json.dumps({"bench": "torch_decoder_bench", "shape": a.shape, "torch": torch.__version__,
                      "parameters": sum(q.numel() for q in model.parameters()),
                      "trainable": sum(q.numel() for q in params), "load_s": build_s,
                      "rss_after_load_mb": rss_loaded, "batch": a.batch, "seq": a.seq, "train_step_s": step_s,
                      "train_tokens_per_s": a.batch * a.seq / step_s, "loss_first": losses[0], "loss_last": losses[-1],
                      "prefill_tokens_per_s": prompt.shape[1] / prefill, "decode_tokens_per_s": 1.0 / decode,
                      "generated": len(out), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
