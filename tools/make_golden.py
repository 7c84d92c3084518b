#!/usr/bin/env python3
"""Golden reference values for everlora's core ops, computed with PyTorch in float64.

Writes tests/fixtures/core_golden.txt: for each op case, the inputs, a random projection w of the
output's shape, the output, and the gradient of sum(out * w) with respect to every
differentiable input. The C++ tests read that file through tests/support/golden.hpp and need no
Python; this script is only rerun when a case is added or changed:

    python3 tools/make_golden.py            # from the repository root (needs torch; 1.13 was used)

Use a python3 that can `import torch` (on a machine where the first python3 on PATH cannot, call
that interpreter by its path, e.g. /usr/bin/python3 tools/make_golden.py).

The output is deterministic (torch.manual_seed(0), CPU, float64). Adding a case at the end keeps
the earlier cases' values unchanged; inserting one in the middle reshuffles everything after it.

File format, one record per line, whitespace-separated, floats printed with %.17g (exact
round-trip for IEEE double), '#' starts a comment line:

    case <name>
    param <key> <number>                             scalar op parameters
    in <name> <rank> <d0> .. <dk-1> <values..>       differentiable float inputs (row-major)
    int <name> <rank> <dims..> <values..>            integer inputs (token ids, targets, masks)
    weight <rank> <dims..> <values..>                projection w, same shape as out
    out <rank> <dims..> <values..>                   op output
    grad <name> <rank> <dims..> <values..>           d/d(in <name>) of sum(out * w)
    end

A rank-0 tensor (scalar) is written with rank 0, no dims and one value.
"""

import math
import os
import sys

import torch
import torch.nn.functional as F

torch.manual_seed(0)
DT = torch.float64

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_PATH = os.path.join(ROOT, "tests", "fixtures", "core_golden.txt")


# ---------------------------------------------------------------------------------------------
# Input generators (all float64, all drawn from the one seeded global generator, in case order)

def randn(*shape):
    return torch.randn(tuple(shape), dtype=DT)


def rand(*shape):
    return torch.rand(tuple(shape), dtype=DT)


def away_from_zero(shape, margin):
    """sign * (margin + U[0,1)): |x| >= margin, both signs."""
    sign = torch.where(rand(*shape) < 0.5, -1.0, 1.0).to(DT)
    return sign * (margin + rand(*shape))


def uniform(shape, lo, hi):
    return lo + (hi - lo) * rand(*shape)


# ---------------------------------------------------------------------------------------------
# Formatting

def fmt_float(v):
    s = "%.17g" % v
    assert float(s) == v, (s, v)
    return s


def tensor_fields(t, as_int=False):
    dims = list(t.shape)
    flat = t.reshape(-1).tolist()
    if as_int:
        vals = ["%d" % int(v) for v in flat]
    else:
        vals = [fmt_float(float(v)) for v in flat]
    return " ".join([str(len(dims))] + [str(d) for d in dims] + vals)


CASES = []
NAMES = set()


def case(name, fn, ins, ints=None, params=None, grad_for=None):
    """Record one case.

    fn(**ins, **ints) -> output tensor. ins: float inputs (differentiable), ints: integer inputs,
    params: scalar parameters written as `param` lines (fn gets them through closure).
    grad_for: names of `in` tensors to write grads for (default: all of them).
    """
    assert name not in NAMES, name
    NAMES.add(name)
    ints = ints or {}
    params = params or {}
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in ins.items()}
    out = fn(**leaves, **ints)
    w = randn(*out.shape)
    loss = (out * w).sum()
    names = list(grad_for) if grad_for is not None else list(leaves)
    grads = torch.autograd.grad(loss, [leaves[k] for k in names], allow_unused=False)

    lines = ["case " + name]
    for k, v in params.items():
        if isinstance(v, int):
            lines.append("param %s %d" % (k, v))
        else:
            lines.append("param %s %s" % (k, fmt_float(float(v))))
    for k, v in ins.items():
        lines.append("in %s %s" % (k, tensor_fields(v)))
    for k, v in ints.items():
        assert not v.is_floating_point(), k
        lines.append("int %s %s" % (k, tensor_fields(v, as_int=True)))
    lines.append("weight " + tensor_fields(w))
    lines.append("out " + tensor_fields(out.detach()))
    for k, g in zip(names, grads):
        assert g.shape == ins[k].shape, (name, k)
        lines.append("grad %s %s" % (k, tensor_fields(g)))
    lines.append("end")
    CASES.append("\n".join(lines))


# ---------------------------------------------------------------------------------------------
# Reference implementations of the fused ops

def causal_attention(q, k, v, n_heads):
    B, Tq, C = q.shape
    Tk = k.shape[1]
    hd = C // n_heads
    qh = q.view(B, Tq, n_heads, hd).transpose(1, 2)   # [B, H, Tq, hd]
    kh = k.view(B, Tk, n_heads, hd).transpose(1, 2)   # [B, H, Tk, hd]
    vh = v.view(B, Tk, n_heads, hd).transpose(1, 2)
    scores = qh @ kh.transpose(-2, -1) / math.sqrt(hd)  # [B, H, Tq, Tk]
    i = torch.arange(Tq).view(Tq, 1)
    j = torch.arange(Tk).view(1, Tk)
    visible = j <= (Tk - Tq + i)                      # query i sits at absolute position Tk-Tq+i
    scores = scores.masked_fill(~visible, float("-inf"))
    p = torch.softmax(scores, dim=-1)
    y = p @ vh                                        # [B, H, Tq, hd]
    return y.transpose(1, 2).contiguous().view(B, Tq, C)


def causal_attention_loops(q, k, v, n_heads):
    """Independent, loop-based version used only to cross-check the one above."""
    B, Tq, C = q.shape
    Tk = k.shape[1]
    hd = C // n_heads
    y = torch.zeros(B, Tq, C, dtype=DT)
    for b in range(B):
        for h in range(n_heads):
            cols = slice(h * hd, (h + 1) * hd)
            for i in range(Tq):
                n = Tk - Tq + i + 1
                s = torch.tensor([float(q[b, i, cols] @ k[b, j, cols]) / math.sqrt(hd)
                                  for j in range(n)], dtype=DT)
                p = torch.exp(s - s.max())
                p = p / p.sum()
                y[b, i, cols] = (p.view(n, 1) * v[b, :n, cols]).sum(0)
    return y


def mean_pool(x, mask):
    m = mask.to(DT).unsqueeze(-1)                     # [B, T, 1]
    return (x * m).sum(1) / m.sum(1)


def max_pool(x, mask):
    keep = mask.bool().unsqueeze(-1).expand_as(x)
    return x.masked_fill(~keep, float("-inf")).max(dim=1).values


# ---------------------------------------------------------------------------------------------
# Cases

def build():
    # --- matmul
    case("matmul", lambda a, b: a @ b, {"a": randn(3, 4), "b": randn(4, 5)})
    case("matmul_nt", lambda a, b: a @ b.t(), {"a": randn(3, 4), "b": randn(5, 4)})
    case("matmul_tn", lambda a, b: a.t() @ b, {"a": randn(4, 3), "b": randn(4, 5)})
    case("matmul_batched3", lambda a, b: a @ b, {"a": randn(2, 3, 4), "b": randn(2, 4, 5)})
    case("matmul_batched4", lambda a, b: a @ b, {"a": randn(2, 2, 3, 4), "b": randn(2, 2, 4, 5)})
    case("matmul_flatten", lambda a, b: a @ b, {"a": randn(2, 3, 4), "b": randn(4, 5)})

    # --- binary elementwise, same shape and broadcast
    ops = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b,
           "mul": lambda a, b: a * b, "div": lambda a, b: a / b}

    def b_draw(op, *shape):
        return away_from_zero(shape, 0.5) if op == "div" else randn(*shape)

    for op, f in ops.items():
        case(op + "_same", f, {"a": randn(3, 4), "b": b_draw(op, 3, 4)})
    for op, f in ops.items():
        case(op + "_row", f, {"a": randn(2, 3, 4), "b": b_draw(op, 4)})
    for op, f in ops.items():
        case(op + "_col", f, {"a": randn(2, 3, 4), "b": b_draw(op, 2, 3, 1)})
    case("add_scalar_tensor", ops["add"], {"a": randn(3, 4), "b": randn(1)})
    case("sub_row_swapped", ops["sub"], {"a": randn(4), "b": randn(3, 4)})

    # --- tensor-scalar ops
    s = 1.7
    case("add_scalar", lambda x: x + s, {"x": randn(3, 4)}, params={"s": s})
    case("mul_scalar", lambda x: x * s, {"x": randn(3, 4)}, params={"s": s})
    case("rsub_scalar", lambda x: s - x, {"x": randn(3, 4)}, params={"s": s})
    case("rdiv_scalar", lambda x: s / x, {"x": away_from_zero((3, 4), 0.5)}, params={"s": s})
    case("pow_scalar", lambda x: x ** 3, {"x": uniform((3, 4), 0.5, 1.5)}, params={"p": 3})

    # --- unary
    case("relu", lambda x: torch.relu(x), {"x": away_from_zero((3, 5), 0.1)})
    case("gelu", lambda x: F.gelu(x, approximate="tanh"), {"x": randn(3, 5)})
    case("silu", lambda x: F.silu(x), {"x": randn(3, 5)})
    case("tanh", lambda x: torch.tanh(x), {"x": randn(3, 5)})
    case("sigmoid", lambda x: torch.sigmoid(x), {"x": randn(3, 5)})
    case("exp", lambda x: torch.exp(x), {"x": randn(3, 5)})
    case("log", lambda x: torch.log(x), {"x": uniform((3, 5), 0.5, 2.0)})
    case("sqrt", lambda x: torch.sqrt(x), {"x": uniform((3, 5), 0.5, 2.0)})
    case("abs", lambda x: torch.abs(x), {"x": away_from_zero((3, 5), 0.1)})
    case("neg", lambda x: torch.neg(x), {"x": randn(3, 5)})

    # --- softmax
    case("softmax", lambda x: torch.softmax(x, dim=-1), {"x": randn(2, 3, 5)},
         params={"axis": -1})
    case("log_softmax", lambda x: torch.log_softmax(x, dim=-1), {"x": randn(2, 3, 5)},
         params={"axis": -1})

    # --- losses
    t = torch.randint(0, 5, (6,), dtype=torch.int64)
    t[2] = -100
    case("cross_entropy",
         lambda logits, targets: F.cross_entropy(logits, targets, ignore_index=-100),
         {"logits": randn(6, 5)}, ints={"targets": t}, params={"ignore_index": -100})
    t3 = torch.randint(0, 5, (2, 3), dtype=torch.int64)
    t3[1, 0] = -100
    case("cross_entropy_3d",
         lambda logits, targets: F.cross_entropy(logits.reshape(-1, 5), targets.reshape(-1),
                                                 ignore_index=-100),
         {"logits": randn(2, 3, 5)}, ints={"targets": t3}, params={"ignore_index": -100})
    case("mse_loss", lambda a, b: F.mse_loss(a, b), {"a": randn(3, 4), "b": randn(3, 4)})
    a = randn(3, 4)
    b = a - away_from_zero((3, 4), 0.1)
    case("l1_loss", lambda a, b: F.l1_loss(a, b), {"a": a, "b": b})

    # --- layer norm
    eps = 1e-5
    case("layer_norm", lambda x, w, b: F.layer_norm(x, (6,), w, b, eps),
         {"x": randn(2, 3, 6), "w": 1.0 + 0.5 * randn(6), "b": randn(6)}, params={"eps": eps})

    # --- embedding (the table is the `in` tensor named "weight"; ids get no grad)
    ids = torch.tensor([[1, 4, 1], [6, 0, 4]], dtype=torch.int64)
    case("embedding", lambda weight, ids: F.embedding(ids, weight), {"weight": randn(7, 4)},
         ints={"ids": ids})

    # --- reductions
    case("sum_all", lambda x: x.sum(), {"x": randn(2, 3, 4)})
    case("mean_all", lambda x: x.mean(), {"x": randn(2, 3, 4)})
    for ax in (0, 1, 2):
        case("sum_axis%d" % ax, lambda x, ax=ax: x.sum(dim=ax), {"x": randn(2, 3, 4)},
             params={"axis": ax})
    case("mean_axis1", lambda x: x.mean(dim=1), {"x": randn(2, 3, 4)}, params={"axis": 1})
    case("sum_axis_neg1", lambda x: x.sum(dim=-1), {"x": randn(2, 3, 4)}, params={"axis": -1})

    # --- shape ops
    case("transpose01", lambda x: x.transpose(0, 1).contiguous(), {"x": randn(2, 3, 4)},
         params={"d0": 0, "d1": 1})
    case("transpose12", lambda x: x.transpose(1, 2).contiguous(), {"x": randn(2, 3, 4, 5)},
         params={"d0": 1, "d1": 2})
    case("slice", lambda x: x[:, 1:4], {"x": randn(4, 5)},
         params={"axis": 1, "start": 1, "end": 4})
    case("slice_axis0", lambda x: x[1:2], {"x": randn(2, 3, 4)},
         params={"axis": 0, "start": 1, "end": 2})
    case("concat", lambda a, b: torch.cat([a, b], dim=1), {"a": randn(2, 3), "b": randn(2, 2)},
         params={"axis": 1})
    case("concat_axis0", lambda a, b, c: torch.cat([a, b, c], dim=0),
         {"a": randn(2, 3), "b": randn(1, 3), "c": randn(3, 3)}, params={"axis": 0})
    case("reshape", lambda x: x.reshape(3, 4), {"x": randn(2, 6)}, params={"d0": 3, "d1": 4})

    # --- pooling (mask: 1 = real token; padding in the middle and at the end)
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 1, 0]], dtype=torch.int64)
    case("mean_pool", mean_pool, {"x": randn(2, 4, 3)}, ints={"mask": mask})
    x = randn(2, 4, 3)
    # Padded positions hold the largest values, so ignoring the mask gives a different answer.
    x = torch.where(mask.bool().unsqueeze(-1), x, 5.0 + rand(2, 4, 3))
    case("max_pool", max_pool, {"x": x}, ints={"mask": mask})

    # --- attention
    q, k, v = randn(2, 5, 8), randn(2, 5, 8), randn(2, 5, 8)
    ref = causal_attention_loops(q, k, v, 2)
    assert torch.allclose(causal_attention(q, k, v, 2), ref, rtol=0, atol=1e-13)
    case("causal_attention", lambda q, k, v: causal_attention(q, k, v, 2),
         {"q": q, "k": k, "v": v}, params={"n_heads": 2})
    q, k, v = randn(2, 3, 8), randn(2, 5, 8), randn(2, 5, 8)
    ref = causal_attention_loops(q, k, v, 2)
    assert torch.allclose(causal_attention(q, k, v, 2), ref, rtol=0, atol=1e-13)
    # Decode semantics: the same as the last Tq rows of full causal attention over Tk queries.
    q_full = torch.cat([randn(2, 2, 8), q], dim=1)
    assert torch.allclose(causal_attention(q_full, k, v, 2)[:, 2:], ref, rtol=0, atol=1e-13)
    case("causal_attention_kv", lambda q, k, v: causal_attention(q, k, v, 2),
         {"q": q, "k": k, "v": v}, params={"n_heads": 2})


def main():
    build()
    header = [
        "# everlora core op golden values: PyTorch %s, float64, torch.manual_seed(0)."
        % torch.__version__,
        "# Generated by tools/make_golden.py -- do not edit; rerun: python3 tools/make_golden.py",
        "# grad <name> = d/d(in <name>) of sum(out * weight). Format: see the script's docstring.",
    ]
    os.makedirs(os.path.dirname(OUT_PATH), exist_ok=True)
    with open(OUT_PATH, "w", newline="\n") as f:
        f.write("\n".join(header + CASES) + "\n")
    size = os.path.getsize(OUT_PATH)
    print("wrote %s: %d cases, %d bytes" % (os.path.relpath(OUT_PATH, ROOT), len(CASES), size))
    if size > 300 * 1024:
        sys.exit("golden file is larger than 300 KB; shrink the shapes")


if __name__ == "__main__":
    main()
