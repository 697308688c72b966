"""Writes the golden files the Java tests compare against, after validating the reference.

Run from the repository root:  /usr/bin/python3 tools/reference/make_goldens.py
Output: trm-java/src/test/resources/golden/{tiny-att,tiny-mlp,full-sudoku-mlp,full-arc-att}.safetensors

Before anything is written it checks (a) parameter counts at the full presets against the spec's
table, (b) the spec's hand-written stablemax backward against autograd and (c) autograd against a
float64 central finite difference on both tiny cases. After writing, every file is re-read with
our own reader and compared bit for bit with what was meant to be written. Any failed check stops
the script with a non-zero exit before (or instead of) leaving a wrong golden behind.

Deterministic: fixed seeds and formula weights; torch's CPU float64 kernels may differ in the last
bits between machines, far below any tolerance the Java side can use.
"""

import argparse
import math
import os
import sys
import time
from dataclasses import replace

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
import trm_reference as ref  # noqa: E402
from trm_reference import TrmConfig  # noqa: E402

GENERATOR = "tools/reference/make_goldens.py"
OUT_DIR = os.path.join("trm-java", "src", "test", "resources", "golden")

TINY_ATT = TrmConfig(vocab_size=11, seq_len=16, hidden_size=32, num_heads=2, expansion=4.0, layers=2,
                     h_cycles=2, l_cycles=2, mlp_t=False, rope=True, rope_theta=10000.0, rms_norm_eps=1e-5,
                     puzzle_emb_len=4, num_puzzle_ids=3, loss="stablemax", batch=2)
TINY_MLP = TrmConfig(vocab_size=11, seq_len=16, hidden_size=32, num_heads=2, expansion=4.0, layers=2,
                     h_cycles=2, l_cycles=2, mlp_t=True, rope=False, rope_theta=10000.0, rms_norm_eps=1e-5,
                     puzzle_emb_len=4, num_puzzle_ids=3, loss="softmax", batch=2)
FULL_SUDOKU_MLP = TrmConfig(vocab_size=11, seq_len=81, hidden_size=512, num_heads=8, expansion=4.0, layers=2,
                            h_cycles=3, l_cycles=6, mlp_t=True, rope=False, rope_theta=10000.0,
                            rms_norm_eps=1e-5, puzzle_emb_len=16, num_puzzle_ids=1, loss="stablemax", batch=2)
FULL_ARC_ATT = TrmConfig(vocab_size=12, seq_len=900, hidden_size=512, num_heads=8, expansion=4.0, layers=2,
                         h_cycles=3, l_cycles=4, mlp_t=False, rope=True, rope_theta=10000.0,
                         rms_norm_eps=1e-5, puzzle_emb_len=16, num_puzzle_ids=4, loss="stablemax", batch=1)

# Spec 1.10 (puzzle table, H_init and L_init excluded).
SPEC_PARAM_COUNTS = {
    "sudoku mlp": (FULL_SUDOKU_MLP, 5_028_866),
    "sudoku att": (replace(FULL_SUDOKU_MLP, mlp_t=False, rope=True), 6_828_034),
    "maze att": (replace(FULL_ARC_ATT, vocab_size=6), 6_822_914),
    "maze mlp": (replace(FULL_ARC_ATT, vocab_size=6, mlp_t=True, rope=False), 18_795_522),
    "arc att": (FULL_ARC_ATT, 6_829_058),
}

HASH_MUL = 2654435761
SAMPLES = 64


def metadata(cfg, case):
    return {"config": cfg.to_json(), "case": case, "generator": GENERATOR}


# ----------------------------------------------------------------------------------------------
# Case A: tiny, random weights and inputs, full tensors
# ----------------------------------------------------------------------------------------------

def tiny_case(cfg, seed):
    """Weights (float32), batch and carry drawn from torch.manual_seed(seed), in this order."""
    torch.manual_seed(seed)
    D = cfg.hidden_size
    params32 = {}
    for name, shape in ref.param_shapes(cfg).items():
        if name == "q_head.bias":
            # Not the spec's -5: a bias near 0 gives halting-loss gradients of useful size.
            params32[name] = torch.tensor([-0.5, 0.3], dtype=torch.float32)
            continue
        if name in ("puzzle_emb.weights", "q_head.weight"):
            std = 1.0 / math.sqrt(D)  # not zero as in the spec's init, so their gradients are exercised
        else:
            std = ref.fan_in_std(name, shape, D)
        params32[name] = ref.trunc_normal_(torch.empty(shape, dtype=torch.float64), std).float()

    B, L = cfg.batch, cfg.seq_len
    inputs = torch.randint(1, 11, (B, L), dtype=torch.int64)
    labels = torch.randint(2, 11, (B, L), dtype=torch.int64)
    labels[torch.rand(B, L) < 0.2] = ref.IGNORE_LABEL
    puzzle_ids = torch.tensor([1, 2], dtype=torch.int64)
    carry_y = torch.randn(B, cfg.seq, D, dtype=torch.float64).float()
    carry_z = torch.randn(B, cfg.seq, D, dtype=torch.float64).float()
    batch = {"inputs": inputs, "labels": labels, "puzzle_ids": puzzle_ids}
    return params32, batch, (carry_y, carry_z)


def tiny_tensors(cfg, params32, batch, carry, out, grads):
    t = {}
    for name, w in params32.items():
        t[name] = w.numpy().astype(np.float32)
    t["inputs"] = batch["inputs"].numpy().astype(np.int32)
    t["labels"] = batch["labels"].numpy().astype(np.int32)
    t["puzzle_ids"] = batch["puzzle_ids"].numpy().astype(np.int32)
    t["carry_y"] = carry[0].numpy().astype(np.float32)
    t["carry_z"] = carry[1].numpy().astype(np.float32)
    for key in ("logits", "q_halt", "q_continue", "new_y", "new_z"):
        t["out." + key] = out[key].detach().numpy().astype(np.float32)
    t["out.seq_correct"] = out["seq_correct"].numpy().astype(np.int32)
    for key in ("lm_loss", "q_halt_loss", "loss"):
        t["out." + key] = np.array(out[key].item(), dtype=np.float64)
    t["out.per_seq_lm"] = out["per_seq_lm"].detach().numpy().astype(np.float64)
    for name, g in grads.items():
        t["grad." + name] = g.numpy().astype(np.float32)
    return t


# ----------------------------------------------------------------------------------------------
# Case B: full size, formula weights, sampled outputs
# ----------------------------------------------------------------------------------------------

def formula_weights(cfg):
    """Weights both sides generate: element i of tensor k is float32(std*sqrt3*(2u-1)),
    u = ((i*2654435761 + (k+1)*97531) mod 2^32) / 2^32 in exact int64 arithmetic.
    k counts tensors in param_shapes order, skipping q_head.bias (fixed at [-5, -5])."""
    params32 = {}
    k = 0
    for name, shape in ref.param_shapes(cfg).items():
        if name == "q_head.bias":
            params32[name] = torch.tensor([-5.0, -5.0], dtype=torch.float32)
            continue
        std = ref.fan_in_std(name, shape, cfg.hidden_size)
        i = np.arange(math.prod(shape), dtype=np.int64)
        m = (i * HASH_MUL + (k + 1) * 97531) % (1 << 32)
        u = m.astype(np.float64) / float(1 << 32)
        v = ((std * math.sqrt(3.0)) * (2.0 * u - 1.0)).astype(np.float32)
        params32[name] = torch.from_numpy(v.reshape(shape))
        k += 1
    return params32


def full_batch(case, cfg):
    B, L = cfg.batch, cfg.seq_len
    t = np.arange(L, dtype=np.int64)[None, :]
    b = np.arange(B, dtype=np.int64)[:, None]
    if case == "full-sudoku-mlp":
        inputs = ((t * 7 + b * 3) % 10) + 1
        labels = ((t * 5 + b) % 9) + 2
        puzzle_ids = np.zeros(B, dtype=np.int64)
    elif case == "full-arc-att":
        inputs = (t * 7 + 3 + b) % 12
        labels = (t * 5 + 1 + b) % 12
        labels = np.where(labels == 0, ref.IGNORE_LABEL, labels)
        puzzle_ids = np.array([2], dtype=np.int64)
    else:
        raise ValueError(f"no batch formula for case {case}")
    return {"inputs": torch.from_numpy(inputs), "labels": torch.from_numpy(labels),
            "puzzle_ids": torch.from_numpy(puzzle_ids)}


def sample_indices(numel):
    j = np.arange(SAMPLES, dtype=np.int64)
    return (j * HASH_MUL + 12345) % numel


def full_tensors(params32, batch, out, grads):
    t = {
        "inputs": batch["inputs"].numpy().astype(np.int32),
        "labels": batch["labels"].numpy().astype(np.int32),
        "puzzle_ids": batch["puzzle_ids"].numpy().astype(np.int32),
    }
    for name, w in params32.items():
        w64 = w.numpy().astype(np.float64)
        t["wnorm." + name] = np.array(np.linalg.norm(w64.ravel()), dtype=np.float64)
        t["wfirst." + name] = w.numpy().ravel()[:4].astype(np.float32)
    sampled = {k: out[k].detach() for k in ("logits", "q_halt", "q_continue", "new_y", "new_z")}
    sampled.update({"grad." + name: g for name, g in grads.items()})
    for name, x in sampled.items():
        flat = x.to(torch.float64).reshape(-1).numpy()
        idx = sample_indices(flat.size)
        t["norm." + name] = np.array(np.linalg.norm(flat), dtype=np.float64)
        t["idx." + name] = idx.astype(np.int64)
        t["val." + name] = flat[idx].astype(np.float64)
    for key in ("lm_loss", "q_halt_loss", "loss"):
        t["out." + key] = np.array(out[key].item(), dtype=np.float64)
    t["out.seq_correct"] = out["seq_correct"].numpy().astype(np.int32)
    return t


# ----------------------------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------------------------

def check_param_counts():
    for label, (cfg, expected) in SPEC_PARAM_COUNTS.items():
        got = ref.num_params(cfg)
        if got != expected:
            sys.exit(f"check failed: {label} has {got:,} parameters, spec says {expected:,}")
    print("check param counts: " + ", ".join(f"{k} {v[1]:,}" for k, v in SPEC_PARAM_COUNTS.items()) + " ok")


def check_stablemax_backward():
    """Autograd of our stablemax CE against the spec's closed-form gradient, both signs of logits."""
    g = torch.Generator().manual_seed(7)
    worst = 0.0
    for trial in range(20):
        x = (torch.randn(11, generator=g, dtype=torch.float64) * 3).requires_grad_(True)
        label = trial % 11
        ce = -ref.log_probs(x.view(1, 1, -1), "stablemax")[0, 0, label]
        (auto,) = torch.autograd.grad(ce, x)
        worst = max(worst, (auto - ref.stablemax_ce_grad(x.detach(), label)).abs().max().item())
    if worst > 1e-12:
        sys.exit(f"check failed: stablemax autograd vs spec formula differ by {worst:.3e}")
    print(f"check stablemax backward vs spec formula: max abs diff {worst:.1e} ok")


def check_finite_difference(case, cfg, params32, batch, carry, per_tensor=3, h=1e-6):
    """Autograd gradient of loss/B against a float64 central difference.

    The step's gradient deliberately ignores how parameters act through the T-1 no-grad
    processes (spec 2.1), so the function differentiated numerically is the grad segment applied
    to the warm carry computed once at the unperturbed parameters. That is exactly the function
    autograd differentiates.
    """
    params = ref.to_compute(params32)
    out, grads = ref.train_step(params, cfg, batch, carry)
    B = cfg.batch
    y_w, z_w = ref.warm_carry(params, cfg, batch, carry[0].double(), carry[1].double())

    def objective():
        with torch.no_grad():
            o = ref.grad_segment(params, cfg, batch, y_w, z_w)
        if not torch.equal(o["seq_correct"], out["seq_correct"]):
            sys.exit(f"check failed: {case}: perturbation flipped seq_correct; choose a smaller h")
        return o["loss"].item() / B

    base = objective()
    if abs(base - out["loss"].item() / B) > 1e-12:
        sys.exit(f"check failed: {case}: grad segment on the warm carry does not reproduce the step loss")

    rng = np.random.default_rng(99)
    worst_rel, worst_abs, checked = 0.0, 0.0, 0
    for name, grad in grads.items():
        p = params[name]
        flat_count = p.numel()
        if name == "puzzle_emb.weights":
            # rows of the batch only; the others must be exactly zero
            used = sorted(set(batch["puzzle_ids"].tolist()))
            unused = [r for r in range(p.shape[0]) if r not in used]
            if unused and grad[unused].abs().max().item() != 0.0:
                sys.exit(f"check failed: {case}: unused puzzle rows have a non-zero gradient")
            picks = [int(r) * p.shape[1] + int(c) for r, c in
                     zip(rng.choice(used, per_tensor), rng.integers(0, p.shape[1], per_tensor))]
        else:
            picks = rng.choice(flat_count, min(per_tensor, flat_count), replace=False).tolist()
        for flat in picks:
            idx = np.unravel_index(flat, tuple(p.shape))
            with torch.no_grad():
                original = p[idx].item()
                p[idx] = original + h
                f_plus = objective()
                p[idx] = original - h
                f_minus = objective()
                p[idx] = original
            fd = (f_plus - f_minus) / (2 * h)
            ad = grad[idx].item()
            err = abs(fd - ad)
            worst_abs = max(worst_abs, err)
            worst_rel = max(worst_rel, err / max(abs(ad), 1e-3))
            checked += 1
            if err > 1e-7 + 1e-5 * abs(ad):
                sys.exit(f"check failed: {case}: d(loss/B)/d{name}{list(idx)}: autograd {ad:.10e}, "
                         f"finite difference {fd:.10e}")
    print(f"check finite difference {case}: {checked} elements over {len(grads)} tensors, "
          f"max abs err {worst_abs:.1e}, max rel err {worst_rel:.1e} ok")


def write_and_verify(path, tensors, meta):
    safetensors_io.save_file(tensors, path, meta)
    back, back_meta = safetensors_io.load_file(path)
    if list(back) != list(tensors) or back_meta != meta:
        sys.exit(f"check failed: {path}: tensor names or metadata differ on re-read")
    for name, arr in tensors.items():
        b = back[name]
        if b.dtype != arr.dtype or b.shape != arr.shape or b.tobytes() != np.ascontiguousarray(arr).tobytes():
            sys.exit(f"check failed: {path}: tensor '{name}' differs on re-read")


def summary(path, tensors, out):
    size = os.path.getsize(path)
    print(f"{os.path.basename(path)}: {len(tensors)} tensors, {size:,} bytes, "
          f"loss {out['loss'].item():.12f} (lm {out['lm_loss'].item():.12f}, "
          f"q_halt {out['q_halt_loss'].item():.12f}), seq_correct {out['seq_correct'].tolist()}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=OUT_DIR, help="output directory (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default: %(default)s)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not os.path.isdir(args.out):
        sys.exit(f"error: output directory '{args.out}' does not exist (run from the repository root)")
    started = time.time()

    check_param_counts()
    check_stablemax_backward()

    tiny = {}
    for case, cfg, seed in (("tiny-att", TINY_ATT, 1234), ("tiny-mlp", TINY_MLP, 4321)):
        params32, batch, carry = tiny_case(cfg, seed)
        check_finite_difference(case, cfg, params32, batch, carry)
        tiny[case] = (cfg, params32, batch, carry)

    for case, (cfg, params32, batch, carry) in tiny.items():
        out, grads = ref.train_step(ref.to_compute(params32), cfg, batch, carry)
        tensors = tiny_tensors(cfg, params32, batch, carry, out, grads)
        path = os.path.join(args.out, case + ".safetensors")
        write_and_verify(path, tensors, metadata(cfg, case))
        summary(path, tensors, out)

    for case, cfg in (("full-sudoku-mlp", FULL_SUDOKU_MLP), ("full-arc-att", FULL_ARC_ATT)):
        t0 = time.time()
        params32 = formula_weights(cfg)
        params = ref.to_compute(params32)
        batch = full_batch(case, cfg)
        carry = ref.initial_carry(params, cfg, cfg.batch)
        out, grads = ref.train_step(params, cfg, batch, carry)
        tensors = full_tensors(params32, batch, out, grads)
        path = os.path.join(args.out, case + ".safetensors")
        write_and_verify(path, tensors, metadata(cfg, case))
        summary(path, tensors, out)
        print(f"  ({time.time() - t0:.1f} s)")

    print(f"all goldens written and re-read in {time.time() - started:.1f} s")


if __name__ == "__main__":
    main()
