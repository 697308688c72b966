"""Times one TRM training supervision step in PyTorch on the CPU, for comparison with the Java CPU backend.

Config: the Sudoku-Extreme MLP preset (vocab 11, L 81, D 512, mlp_t, T 3, n 6, P 16) at batch 8,
float32 compute, torch.set_num_threads(2). One step = input embedding, T(n+1) = 21 net calls
(14 without gradient), heads, stablemax + halting loss, and backward through the last n+1 = 7
calls. No optimizer update. Weights are the golden formula weights (values do not matter for time).

Run from the repository root:  /usr/bin/python3 tools/reference/bench_step.py
Prints per-run times, then `torch_train_step_ms=<median of 5 runs after 1 warmup>`.
"""

import os
import statistics
import sys
import time
from dataclasses import replace

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_goldens as mg  # noqa: E402
import trm_reference as ref  # noqa: E402

BATCH = 8
WARMUP = 1
RUNS = 5


def main():
    torch.set_num_threads(2)
    cfg = replace(mg.FULL_SUDOKU_MLP, batch=BATCH)
    params = ref.to_compute(mg.formula_weights(cfg), torch.float32)
    t = torch.arange(cfg.seq_len)[None, :]
    b = torch.arange(BATCH)[:, None]
    batch = {"inputs": (t * 7 + b * 3) % 10 + 1, "labels": (t * 5 + b) % 9 + 2,
             "puzzle_ids": torch.zeros(BATCH, dtype=torch.long)}
    carry = ref.initial_carry(params, cfg, BATCH)

    times = []
    for run in range(WARMUP + RUNS):
        start = time.perf_counter()
        ref.train_step(params, cfg, batch, carry)
        ms = (time.perf_counter() - start) * 1000
        print(f"{'warmup' if run < WARMUP else 'run'} {run}: {ms:.1f} ms")
        if run >= WARMUP:
            times.append(ms)
    print(f"torch_train_step_ms={statistics.median(times):.1f}")


if __name__ == "__main__":
    main()
