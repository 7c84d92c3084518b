#!/usr/bin/env python3
"""Golden reference trajectories for everlora's optimizers, computed with PyTorch in float64.

Writes tests/fixtures/optim_golden.txt: for each case, the hyperparameters, the initial parameters,
and for each of 5 steps the learning rate, the gradients and the parameters after
torch.optim.SGD / torch.optim.AdamW took the step; then the optimizer state after the last step.
The C++ test (tests/optim/golden_test.cpp) replays the same gradients and needs no Python; this
script is only rerun when a case is added or changed:

    /usr/bin/python3 tools/make_optim_golden.py     # from anywhere (needs torch; 1.13 was used)

Use a python3 that can `import torch`. The output is deterministic (torch.manual_seed(0), CPU,
float64). In every case parameter "b" gets no gradient at step 3 (p.grad = None), which PyTorch
skips: its state and its own step count stay as they were.

File format, one record per line, whitespace-separated, floats printed with %.17g (exact
round-trip for IEEE double), '#' starts a comment line; a tensor is <rank> <dims..> <values..>
(row-major):

    case <name>
    hp <key> <number>                  hyperparameter (nesterov: 0 or 1)
    param <name> <tensor>              initial value of a parameter
    lr <step> <number>                 learning rate used for step <step> (1-based)
    grad <step> <name> <tensor>        gradient of <name> at that step (absent: no gradient)
    after <step> <name> <tensor>       value of <name> after that step
    state <key> <tensor>               a state buffer after the last step, e.g. exp_avg.w
    pstep <name> <int>                 updates applied to <name> by the end (its state "step")
    end
"""

import math
import os

import torch

torch.manual_seed(0)
DT = torch.float64
STEPS = 5
SKIP_B_AT = 3

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_PATH = os.path.join(ROOT, "tests", "fixtures", "optim_golden.txt")


def fmt_float(v):
    s = "%.17g" % v
    assert float(s) == v, (s, v)
    return s


def tensor_fields(t):
    dims = list(t.shape)
    vals = [fmt_float(float(v)) for v in t.reshape(-1).tolist()]
    return " ".join([str(len(dims))] + [str(d) for d in dims] + vals)


def run_case(name, make_opt, hps, lrs=None):
    """make_opt(params) -> optimizer; lrs: per-step learning rates (None: keep the initial one)."""
    params = {
        "w": torch.randn(3, 4, dtype=DT).requires_grad_(True),
        "b": torch.randn(4, dtype=DT).requires_grad_(True),
    }
    lines = ["case " + name]
    for k, v in hps.items():
        lines.append("hp %s %s" % (k, fmt_float(float(v))))
    for k, p in params.items():
        lines.append("param %s %s" % (k, tensor_fields(p.detach())))
    opt = make_opt(list(params.values()))
    for step in range(1, STEPS + 1):
        if lrs is not None:
            for group in opt.param_groups:
                group["lr"] = lrs[step - 1]
        lines.append("lr %d %s" % (step, fmt_float(opt.param_groups[0]["lr"])))
        for k, p in params.items():
            if k == "b" and step == SKIP_B_AT:
                p.grad = None
                continue
            # Gradients of mixed magnitude, so that the moments and the clipping-free path vary.
            g = torch.randn(p.shape, dtype=DT) * (0.5 + step * 0.25)
            p.grad = g.clone()
            lines.append("grad %d %s %s" % (step, k, tensor_fields(g)))
        opt.step()
        for k, p in params.items():
            lines.append("after %d %s %s" % (step, k, tensor_fields(p.detach())))
    for k, p in params.items():
        st = opt.state[p]
        for slot in ("momentum_buffer", "exp_avg", "exp_avg_sq"):
            if slot in st and st[slot] is not None:
                lines.append("state %s.%s %s" % (slot, k, tensor_fields(st[slot])))
        if "step" in st:
            n = int(st["step"].item())
        else:  # SGD keeps no step count: count the steps that had a gradient
            n = STEPS - (1 if k == "b" else 0)
        lines.append("pstep %s %d" % (k, n))
    lines.append("end")
    return lines


def sgd(lr, momentum, dampening, weight_decay, nesterov):
    hps = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
               nesterov=1 if nesterov else 0)
    return (lambda ps: torch.optim.SGD(ps, lr=lr, momentum=momentum, dampening=dampening,
                                       weight_decay=weight_decay, nesterov=nesterov), hps)


def adamw(lr, beta1, beta2, eps, weight_decay):
    hps = dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay)
    return (lambda ps: torch.optim.AdamW(ps, lr=lr, betas=(beta1, beta2), eps=eps,
                                         weight_decay=weight_decay, amsgrad=False,
                                         foreach=False), hps)


def main():
    out = [
        "# everlora optimizer golden trajectories: written by tools/make_optim_golden.py",
        "# (torch %s, float64, seed 0). Format described in that script." % torch.__version__,
    ]
    out += run_case("sgd_momentum_nesterov_wd", *sgd(0.1, 0.9, 0.0, 0.01, True))
    out += run_case("sgd_momentum_dampening_wd", *sgd(0.05, 0.8, 0.3, 0.1, False))
    out += run_case("sgd_plain_wd", *sgd(0.1, 0.0, 0.0, 0.05, False))
    # AdamW with the lr changed before every step (a warm-up then decay, as a schedule would).
    lrs = [0.01 * f for f in (0.2, 0.6, 1.0, 0.7, 0.3)]
    out += run_case("adamw_scheduled", *adamw(0.01, 0.9, 0.99, 1e-8, 0.1), lrs=lrs)
    out += run_case("adamw_defaults", *adamw(1e-3, 0.9, 0.999, 1e-8, 1e-2))
    # Large eps and small beta2 so eps and bias correction matter in the last digits.
    out += run_case("adamw_large_eps", *adamw(0.05, 0.5, 0.6, 0.1, 0.0))
    os.makedirs(os.path.dirname(OUT_PATH), exist_ok=True)
    with open(OUT_PATH, "w") as f:
        f.write("\n".join(out) + "\n")
    print("wrote %s (%d lines)" % (os.path.relpath(OUT_PATH, ROOT), len(out)))


if __name__ == "__main__":
    main()
