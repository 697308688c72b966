"""How far a float32 run of the same reference lands from the float64 goldens.

Informational, not a check: it tells the Java tests what size of difference plain float32
arithmetic produces on each golden (accumulation order differs between torch and Java, so treat
these as an order of magnitude, not a bound).

Run from the repository root:  /usr/bin/python3 tools/reference/fp32_drift.py
Prints one line per golden tensor: max |fp32 - golden| / max |golden| (tiny files, full tensors) or
max(|norm diff| / norm, max sampled |diff| / max sampled |golden|) (full files).
"""

import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_goldens as mg  # noqa: E402
import safetensors_io  # noqa: E402
import trm_reference as ref  # noqa: E402


def load_case(path):
    """(cfg, params32, batch, carry_or_None, tensors) of a golden file."""
    t, meta = safetensors_io.load_file(path)
    cfg = ref.TrmConfig(**json.loads(meta["config"]))
    if "lm_head.weight" in t:
        params32 = {k: torch.from_numpy(t[k]) for k in ref.param_shapes(cfg)}
        carry = (torch.from_numpy(t["carry_y"]), torch.from_numpy(t["carry_z"]))
    else:
        params32 = mg.formula_weights(cfg)
        carry = None
    batch = {k: torch.from_numpy(t[k]).long() for k in ("inputs", "labels", "puzzle_ids")}
    return cfg, params32, batch, carry, t


def drift(path):
    cfg, params32, batch, carry, t = load_case(path)
    params = ref.to_compute(params32, torch.float32)
    if carry is None:
        carry = ref.initial_carry(params, cfg, cfg.batch)
    out, grads = ref.train_step(params, cfg, batch, carry)
    got = {k: out[k].detach() for k in ("logits", "q_halt", "q_continue", "new_y", "new_z", "loss")}
    got.update({"grad." + k: g for k, g in grads.items()})
    worst = 0.0
    print(os.path.basename(path))
    for name, x in got.items():
        x = x.to(torch.float64).reshape(-1).numpy()
        key = name if name.startswith("grad.") else "out." + name
        if key in t:
            exp = t[key].astype(np.float64).reshape(-1)
            d = np.abs(x - exp).max() / np.abs(exp).max()
        else:
            idx = t["idx." + name]
            vals = t["val." + name]
            d = max(abs(np.linalg.norm(x) - t["norm." + name]) / t["norm." + name],
                    np.abs(x[idx] - vals).max() / np.abs(vals).max())
        worst = max(worst, d)
        print(f"  {name:55s} {d:.2e}")
    print(f"  worst {worst:.2e}")


def main():
    torch.set_num_threads(2)
    for case in ("tiny-att", "tiny-mlp", "full-sudoku-mlp", "full-arc-att"):
        drift(os.path.join(mg.OUT_DIR, case + ".safetensors"))


if __name__ == "__main__":
    main()
