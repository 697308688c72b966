"""PyTorch baseline for the CUDA backend: times one full TRM training step on a chosen device.

One step = what one optimizer step of the official trainer does (spec 2.1, 2.2, 3, 4):
  ACT carry reset of the halted slots; input embedding; T-1 recursion processes without gradient and
  one with; lm_head and q_head; stablemax (float64) CE + 0.5 * halting BCE, divided by B; backward
  through the last n+1 net calls; halting update with exploration; AdamATan2 (spec 4.2) over all
  parameters; SignSGD (spec 4.3) on the puzzle-table rows of the batch.

Precision follows the official run (spec 1.9), `--dtype bf16` (default): fp32 master weights, cast
to bf16 once per step (autograd brings the gradients back to fp32); activations and the carry in
bf16; RMSNorm and RoPE computed in fp32 and cast back; q logits fp32; the loss in float64.
`--dtype float32` runs everything in float32 (for CPUs without fast bf16).

Why the step is written here and not taken from trm_reference.py: the reference is a float64 CPU
ground truth (CPU-only zero padding and RoPE tables, explicit S x S attention scores, no casts).
This file keeps its own forward, following the spec and the official dtype flow, with
scaled_dot_product_attention where torch has it. It reuses the reference's config, parameter
layout, init and loss functions, and `--check` compares this forward and its gradients against
trm_reference on the tiny golden configs (and AdamATan2 against the spec formula in float64).

Timing: CUDA is synchronised before and after every step; median_ms is the median wall time of
the timed steps (gpu_ms: the median of CUDA-event times). tokens_per_s counts the L task tokens
of every sequence (the puzzle prefix is not counted). model_tflops counts matmul FLOPs only, the
spec 9 way (forward of all T(n+1) calls + heads, backward = 2 x the forward of the n+1 grad calls
+ heads). peak_mem_mib is torch.cuda.max_memory_allocated over the whole run (weights, optimizer
state, puzzle table, activations).

Usage (from the repository root, or from dist/device on the GPU machine):
  python3 tools/reference/bench_device.py --device cuda --preset sudoku-extreme-mlp --batch 768 --mode eager,compile
  python3 tools/reference/bench_device.py --device cuda --matmul-peak
  /usr/bin/python3 tools/reference/bench_device.py --device cpu --dtype float32 --preset sudoku-extreme-mlp --batch 2 --runs 1 --warmup 1
  /usr/bin/python3 tools/reference/bench_device.py --check           (CPU, ~1 min)
  /usr/bin/python3 tools/reference/bench_device.py --device cpu --saved-memory --preset sudoku-extreme-mlp --batch 768
Lines to grep: `torch_step mode=... median_ms=...` per mode, `torch_bf16_gemm_tflops=...`, `torch_saved ...`.

--saved-memory counts, without timing anything, the bytes eager autograd keeps for the backward of one step (every
tensor saved by the forward's ops, each storage once): the figure to hold against the Java plan's "activations saved
for the backward" row (`./trm bench train --plan`) plus the part of the "no-grad calls' set" row that the last call
with gradient runs on (all of it but the net's scratch: x, sub, a1, a2). It runs the forward at batches 1 and 2 and extends the difference
linearly to --batch, so it takes seconds on a CPU for any batch. torch.compile saves less than eager (its partitioner
recomputes cheap pointwise ops); only the device run's peak_mem_mib measures that.
"""

import argparse
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import trm_reference as ref  # noqa: E402  (imports only torch and the standard library)

# Spec 1.1 preset table (Sudoku-MLP and ARC-1 columns) and spec 5.2 (ARC-1 puzzle table rows);
# `--check` asserts they equal make_goldens' FULL_SUDOKU_MLP / FULL_ARC_ATT apart from batch and rows.
PRESETS = {
    "sudoku-extreme-mlp": ref.TrmConfig(
        vocab_size=11, seq_len=81, hidden_size=512, num_heads=8, expansion=4.0, layers=2, h_cycles=3,
        l_cycles=6, mlp_t=True, rope=False, rope_theta=10000.0, rms_norm_eps=1e-5, puzzle_emb_len=16,
        num_puzzle_ids=1, loss="stablemax", batch=768),
    "arc-1": ref.TrmConfig(
        vocab_size=12, seq_len=900, hidden_size=512, num_heads=8, expansion=4.0, layers=2, h_cycles=3,
        l_cycles=4, mlp_t=False, rope=True, rope_theta=10000.0, rms_norm_eps=1e-5, puzzle_emb_len=16,
        num_puzzle_ids=876_406, loss="stablemax", batch=768),
}
# Spec 4.4: (lr, weight decay, puzzle_emb_lr, puzzle_emb_wd). lr_min_ratio = 1, so after warmup the
# rate is constant; the warmup ramp changes no work, so the bench uses the base rates.
OPTIM = {
    "sudoku-extreme-mlp": (1e-4, 1.0, 1e-4, 1.0),
    "arc-1": (1e-4, 0.1, 1e-2, 0.1),
}
HALT_MAX_STEPS = 16          # N_sup (spec 1.1)
HALT_EXPLORATION = 0.1
BETA1, BETA2 = 0.9, 0.95     # AdamATan2 (spec 4.2)
DTYPES = {"bf16": torch.bfloat16, "float32": torch.float32}


# ----------------------------------------------------------------------------------------------
# The forward, in the official dtype flow
# ----------------------------------------------------------------------------------------------

def rms_norm(h, eps):
    """Weightless RMSNorm over the last axis, computed in fp32 and cast back (spec 1.4)."""
    h32 = h.float()
    return (h32 * torch.rsqrt(h32.pow(2).mean(dim=-1, keepdim=True) + eps)).to(h.dtype)


def swiglu(x, gate_up, down):
    """down(silu(gate) * up); gate_up rows [0:I) are the gate."""
    gate, up = F.linear(x, gate_up).chunk(2, dim=-1)
    return F.linear(F.silu(gate) * up, down)


def rotate(x, cos, sin):
    """RoPE rotate-half in fp32, cast back (spec 1.3). x [B, H, S, hd], cos/sin [S, hd] fp32."""
    x32 = x.float()
    return (x32 * cos + ref.rotate_half(x32) * sin).to(x.dtype)


def attention(h, w_qkv, w_o, cfg, rope):
    """Non-causal MHA, scale 1/sqrt(hd), no mask. h [B, S, D] -> [B, S, D]."""
    B, S, D = h.shape
    H, hd = cfg.num_heads, cfg.head_dim
    q, k, v = (t.reshape(B, S, H, hd).transpose(1, 2) for t in F.linear(h, w_qkv).split(D, dim=-1))  # [B,H,S,hd]
    if rope is not None:
        q, k = rotate(q, *rope), rotate(k, *rope)
    if hasattr(F, "scaled_dot_product_attention"):   # torch >= 2.0: flash / memory-efficient kernels
        out = F.scaled_dot_product_attention(q, k, v)
    else:                                            # torch 1.13 (CPU checks only): softmax in fp32
        scores = (q @ k.transpose(-1, -2)).float() / math.sqrt(hd)
        out = scores.softmax(dim=-1).to(v.dtype) @ v
    return F.linear(out.transpose(1, 2).reshape(B, S, D), w_o)


def block(h, p, l, cfg, rope):
    """Post-norm block (spec 1.4): attention or the sequence-axis SwiGLU, then the channel SwiGLU."""
    pre, eps = f"L_level.layers.{l}.", cfg.rms_norm_eps
    if cfg.mlp_t:
        t = h.transpose(1, 2)                                                             # [B, D, S]
        t = rms_norm(t + swiglu(t, p[pre + "mlp_t.gate_up_proj.weight"], p[pre + "mlp_t.down_proj.weight"]), eps)
        h = t.transpose(1, 2)
    else:
        h = rms_norm(h + attention(h, p[pre + "self_attn.qkv_proj.weight"], p[pre + "self_attn.o_proj.weight"],
                                   cfg, rope), eps)
    return rms_norm(h + swiglu(h, p[pre + "mlp.gate_up_proj.weight"], p[pre + "mlp.down_proj.weight"]), eps)


def net(hidden, injection, p, cfg, rope):
    h = hidden + injection
    for l in range(cfg.layers):
        h = block(h, p, l, cfg, rope)
    return h


def recursion_process(y, z, x, p, cfg, rope, net_fn):
    for _ in range(cfg.l_cycles):
        z = net_fn(z, y + x, p, cfg, rope)
    return net_fn(y, z, p, cfg, rope), z


def make_forward(cfg, dtype, layout, rope, net_fn=net):
    """The differentiable part of a training step as one function (what `--mode compile` compiles with
    `--compile-scope step`; with `--compile-scope net` only net_fn is compiled).

    Arguments: master [N] fp32 (all Adam parameters, layout order), puzzle_local [B, D] fp32 (the
    batch's puzzle rows, spec 4.3), h_init/l_init [D], carry y/z [B, S, D], steps [B] int32,
    halted [B] bool, inputs/labels [B, L] int64.
    Returns loss / B, new y, z, steps, halted, logits [B, L, V], q_halt [B].
    """
    names, sizes, shapes = layout
    P, D = cfg.puzzle_emb_len, cfg.hidden_size

    def forward(master, puzzle_local, h_init, l_init, y, z, steps, halted, inputs, labels):
        B = inputs.shape[0]
        p = {n: w.view(s) for n, w, s in zip(names, master.to(dtype).split(sizes), shapes)}
        # ACT (spec 2.2): halted slots restart from H_init / L_init.
        reset = halted.view(-1, 1, 1)
        y = torch.where(reset, h_init, y)
        z = torch.where(reset, l_init, z)
        steps = torch.where(halted, torch.zeros_like(steps), steps)
        # Input embedding (spec 1.2): [puzzle row, P-1 zero slots, tokens] * sqrt(D).
        prefix = F.pad(puzzle_local.to(dtype).unsqueeze(1), (0, 0, 0, P - 1))                 # [B, P, D]
        x = torch.cat([prefix, p["embed_tokens.embedding_weight"][inputs]], dim=1) * math.sqrt(D)
        with torch.no_grad():
            for _ in range(cfg.h_cycles - 1):
                y, z = recursion_process(y, z, x, p, cfg, rope, net_fn)
        y, z = recursion_process(y, z, x, p, cfg, rope, net_fn)
        logits = F.linear(y, p["lm_head.weight"])[:, P:]                                      # [B, L, V]
        q = F.linear(y[:, 0], p["q_head.weight"], p["q_head.bias"]).float()                   # [B, 2]
        out = ref.losses(logits, q[:, 0], labels, cfg.loss)                                   # float64
        steps = steps + 1
        q_halt = q[:, 0].detach()
        halted = (steps >= HALT_MAX_STEPS) | (q_halt > 0)
        min_steps = (torch.rand_like(q_halt) < HALT_EXPLORATION) * torch.randint_like(steps, 2, HALT_MAX_STEPS + 1)
        halted = halted & (steps >= min_steps)
        return out["loss"] / B, y.detach(), z.detach(), steps, halted, logits, q[:, 0]

    return forward


# ----------------------------------------------------------------------------------------------
# Optimizers (fp32, in place)
# ----------------------------------------------------------------------------------------------

def adam_atan2(p, g, m, v, t, lr, wd):
    """AdamATan2 of spec 4.2 on flat fp32 tensors; t is the step count (a tensor, already incremented)."""
    p.mul_(1 - lr * wd)
    m.lerp_(g, 1 - BETA1)
    v.lerp_(g * g, 1 - BETA2)
    p.sub_(lr * torch.atan2(m / (1 - torch.pow(BETA1, t)), v.sqrt() / torch.sqrt(1 - torch.pow(BETA2, t))))


def sign_sgd(table, ids, grad, lr, wd):
    """Spec 4.3: rows of the batch only, gradients summed per unique id, row*(1-lr*wd) - lr*sign(g)."""
    uniq, inv = ids.unique(return_inverse=True)
    g = torch.zeros(uniq.numel(), grad.shape[1], dtype=grad.dtype, device=grad.device).index_add_(0, inv, grad)
    table[uniq] = table[uniq] * (1 - lr * wd) - lr * g.sign()


# ----------------------------------------------------------------------------------------------
# Training state
# ----------------------------------------------------------------------------------------------

def spec_init(cfg, seed):
    """Spec 1.8: LeCun truncated normal; q_head W = 0, b = -5; H_init/L_init std 1 (puzzle table: 0)."""
    gen = torch.Generator().manual_seed(seed)
    w = {}
    for name, shape in ref.param_shapes(cfg).items():
        if name == "puzzle_emb.weights":
            continue
        if name == "q_head.weight":
            w[name] = torch.zeros(shape)
        elif name == "q_head.bias":
            w[name] = torch.full(shape, -5.0)
        else:
            w[name] = ref.trunc_normal_(torch.empty(shape), ref.fan_in_std(name, shape, cfg.hidden_size), gen)
    return w


class TrainState:
    """Everything a run keeps on the device. Adam parameters live in one flat fp32 buffer (views per
    tensor), so the optimizer is a handful of whole-buffer kernels, like a fused multi-tensor Adam."""

    def __init__(self, cfg, batch, device, dtype, puzzle_rows, seed=0, weights=None, data=None):
        shapes = ref.param_shapes(cfg)
        names = [n for n in shapes if n not in ref.BUFFERS]
        self.layout = (names, [math.prod(shapes[n]) for n in names], [tuple(shapes[n]) for n in names])
        w = weights if weights is not None else spec_init(cfg, seed)
        self.master = torch.cat([w[n].reshape(-1).float() for n in names]).to(device).requires_grad_()
        self.m = torch.zeros_like(self.master, requires_grad=False)
        self.v = torch.zeros_like(self.master, requires_grad=False)
        self.t = torch.zeros((), dtype=torch.float32, device=device)
        self.h_init = w["H_init"].to(device=device, dtype=dtype)        # [D], bf16 buffers as in spec 1.6
        self.l_init = w["L_init"].to(device=device, dtype=dtype)
        self.table = torch.zeros(puzzle_rows, cfg.hidden_size, device=device)   # fp32, init 0 (spec 1.2)
        if weights is not None and "puzzle_emb.weights" in weights:
            self.table.copy_(weights["puzzle_emb.weights"])
        S, D = cfg.seq, cfg.hidden_size
        self.y = torch.zeros(batch, S, D, device=device, dtype=dtype)
        self.z = torch.zeros(batch, S, D, device=device, dtype=dtype)
        self.steps = torch.zeros(batch, dtype=torch.int32, device=device)
        self.halted = torch.ones(batch, dtype=torch.bool, device=device)   # first step: every slot resets
        if data is None:
            gen = torch.Generator().manual_seed(seed + 1)
            inputs = torch.randint(1, cfg.vocab_size, (batch, cfg.seq_len), generator=gen)
            labels = torch.randint(1, cfg.vocab_size, (batch, cfg.seq_len), generator=gen)
            ids = (torch.randint(1, puzzle_rows, (batch,), generator=gen) if puzzle_rows > 1
                   else torch.zeros(batch, dtype=torch.int64))
            data = {"inputs": inputs, "labels": labels, "puzzle_ids": ids}
        self.inputs, self.labels, self.ids = (data[k].to(device) for k in ("inputs", "labels", "puzzle_ids"))
        self.local = None


def train_step(st, forward, adam, hp):
    """One optimizer step; returns loss / B (a device tensor, not synchronised)."""
    lr, wd, emb_lr, emb_wd = hp
    with torch.no_grad():
        st.local = st.table[st.ids]                      # [B, D] copy of the batch's rows
    st.local.requires_grad_()
    st.master.grad = None
    loss, st.y, st.z, st.steps, st.halted, _, _ = forward(
        st.master, st.local, st.h_init, st.l_init, st.y, st.z, st.steps, st.halted, st.inputs, st.labels)
    loss.backward()
    with torch.no_grad():
        st.t += 1
        adam(st.master, st.master.grad, st.m, st.v, st.t, lr, wd)
        sign_sgd(st.table, st.ids, st.local.grad, emb_lr, emb_wd)
    return loss


# ----------------------------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------------------------

def train_flops_per_seq(cfg):
    """Matmul FLOPs of one training step per sequence, spec 9 counting (2 per MAC)."""
    D, S, V = cfg.hidden_size, cfg.seq, cfg.vocab_size
    inter = ref.swiglu_intermediate(cfg.expansion, D)
    channel = 2 * D * 2 * inter + 2 * inter * D                                      # per token
    if cfg.mlp_t:
        inter_s = ref.swiglu_intermediate(cfg.expansion, S)
        per_block = S * channel + D * (2 * S * 2 * inter_s + 2 * inter_s * S)
    else:
        per_block = S * (channel + 2 * D * 3 * D + 2 * D * D + 4 * S * D)
    f_call = cfg.layers * per_block
    heads = S * 2 * D * V + 2 * D * 2
    calls, grad_calls = cfg.h_cycles * (cfg.l_cycles + 1), cfg.l_cycles + 1
    return calls * f_call + heads + 2 * (grad_calls * f_call + heads)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_mode(args, mode, device, dtype):
    cfg = PRESETS[args.preset]
    rows = args.puzzle_rows if args.puzzle_rows is not None else cfg.num_puzzle_ids
    head = f"torch_step mode={mode} preset={args.preset} batch={args.batch} dtype={args.dtype} device={device.type}"
    if mode == "compile":
        head += f" scope={args.compile_scope}"
    if mode == "compile" and not hasattr(torch, "compile"):
        print(f"{head} status=skipped reason=torch.compile_unavailable_in_torch_{torch.__version__}", flush=True)
        return
    torch.manual_seed(0)
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    st = TrainState(cfg, args.batch, device, dtype, rows, seed=0)
    rope = None
    if cfg.rope and not cfg.mlp_t:
        rope = tuple(t.to(device=device, dtype=torch.float32) for t in ref.rope_tables(cfg, torch.float64))
    forward, adam = make_forward(cfg, dtype, st.layout, rope), adam_atan2
    if mode == "compile":
        adam = torch.compile(adam)
        if args.compile_scope == "step":
            forward = torch.compile(forward)
        else:
            forward = make_forward(cfg, dtype, st.layout, rope, torch.compile(net))
    hp = OPTIM[args.preset]

    warmup = max(args.warmup, 1 if mode == "compile" else 0)   # the first compiled call compiles
    wall, gpu, first_s = [], [], None
    for i in range(warmup + args.runs):
        sync(device)
        if device.type == "cuda":
            ev0, ev1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            ev0.record()
        t0 = time.perf_counter()
        loss = train_step(st, forward, adam, hp)
        if device.type == "cuda":
            ev1.record()
        sync(device)
        ms = (time.perf_counter() - t0) * 1e3
        if i == 0:
            first_s = ms / 1e3
        if i >= warmup:
            wall.append(ms)
            if device.type == "cuda":
                gpu.append(ev0.elapsed_time(ev1))
        if args.verbose:
            print(f"  {'warmup' if i < warmup else 'run'} {i}: {ms:.1f} ms, loss/B {loss.item():.4f}", flush=True)
    if not math.isfinite(loss.item()):
        sys.exit(f"{head} status=error reason=non-finite_loss")

    med = statistics.median(wall)
    flops = train_flops_per_seq(cfg) * args.batch
    fields = [head, f"median_ms={med:.2f}", f"min_ms={min(wall):.2f}"]
    fields.append(f"gpu_ms={statistics.median(gpu):.2f}" if gpu else "gpu_ms=n/a")
    fields += [f"steps_per_s={1e3 / med:.3f}", f"seqs_per_s={args.batch * 1e3 / med:.2f}",
               f"tokens_per_s={args.batch * cfg.seq_len * 1e3 / med:.0f}",
               f"model_tflops={flops / (med / 1e3) / 1e12:.2f}"]
    if args.peak_tflops:
        fields.append(f"mfu_vs_gemm={flops / (med / 1e3) / 1e12 / args.peak_tflops:.3f}")
    fields.append(f"peak_mem_mib={torch.cuda.max_memory_allocated(device) / 2**20:.0f}"
                  if device.type == "cuda" else "peak_mem_mib=n/a")
    fields += [f"first_step_s={first_s:.2f}", f"warmup={warmup}", f"runs={args.runs}", f"puzzle_rows={rows}",
               f"gflop_per_step={flops / 1e9:.1f}", f"torch={torch.__version__}"]
    print(" ".join(fields), flush=True)
    del st, forward, adam
    if device.type == "cuda":
        torch.cuda.empty_cache()


def saved_memory(args, device, dtype):
    """Bytes eager autograd saves for the backward of one training step, per sequence and at --batch.

    A saved_tensors_hooks pack function sees every tensor an op keeps for its backward; tensors are counted by storage
    (a view keeps its whole storage alive; two views of one storage count once). What does not scale with the batch
    (the bf16 weight copy the forward makes, views of it) is the intercept of the two batches' counts."""
    cfg = PRESETS[args.preset]
    rope = None
    if cfg.rope and not cfg.mlp_t:
        rope = tuple(t.to(device=device, dtype=torch.float32) for t in ref.rope_tables(cfg, torch.float64))
    counted = []
    for batch in (1, 2):
        st = TrainState(cfg, batch, device, dtype, 2, seed=0)
        forward = make_forward(cfg, dtype, st.layout, rope)
        storages = {}

        def pack(t):
            s = t.untyped_storage() if hasattr(t, "untyped_storage") else t.storage()
            storages[s.data_ptr()] = s.nbytes()
            return t

        local = st.table[st.ids].clone().requires_grad_()
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss, *_ = forward(st.master, local, st.h_init, st.l_init, st.y, st.z, st.steps, st.halted,
                               st.inputs, st.labels)
        if not math.isfinite(loss.item()):
            sys.exit("torch_saved status=error reason=non-finite_loss")
        counted.append(sum(storages.values()))
        del st, forward, loss, storages
    per_seq = counted[1] - counted[0]
    fixed = counted[0] - per_seq
    mib = 2 ** 20
    # without scaled_dot_product_attention (torch < 2.0) attention keeps its [B, H, S, S] scores: not what a GPU's
    # torch saves, so the line says which attention it counted
    att = "" if cfg.mlp_t else (" attention=sdpa" if hasattr(F, "scaled_dot_product_attention")
                                else " attention=explicit_scores")
    print(f"torch_saved mode=eager preset={args.preset} batch={args.batch} dtype={args.dtype} device={device.type}"
          f" saved_mib={(fixed + args.batch * per_seq) / mib:.0f} per_seq_mib={per_seq / mib:.2f}"
          f" fixed_mib={fixed / mib:.1f}{att} torch={torch.__version__}", flush=True)


def matmul_peak(args, device, dtype):
    """Dense GEMM rate: median over samples of `reps` back-to-back n^3 matmuls."""
    n = args.gemm_size or (8192 if device.type == "cuda" else 1024)
    reps, samples = (10, 7) if device.type == "cuda" else (2, 3)
    gen = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, device=device, generator=gen).to(dtype)
    b = torch.randn(n, n, device=device, generator=gen).to(dtype)
    c = torch.empty(n, n, device=device, dtype=dtype)
    for _ in range(3):
        torch.matmul(a, b, out=c)
    times = []
    for _ in range(samples):
        sync(device)
        t0 = time.perf_counter()
        for _ in range(reps):
            torch.matmul(a, b, out=c)
        sync(device)
        times.append((time.perf_counter() - t0) / reps)
    t = statistics.median(times)
    name = "bf16" if dtype == torch.bfloat16 else "float32"
    print(f"torch_{name}_gemm_tflops={2 * n**3 / t / 1e12:.2f} n={n} median_ms={t * 1e3:.3f} device={device.type}"
          f" torch={torch.__version__}", flush=True)


# ----------------------------------------------------------------------------------------------
# --check: this forward against trm_reference (CPU)
# ----------------------------------------------------------------------------------------------

def check():
    import make_goldens as mg   # numpy is needed here only
    from dataclasses import replace

    failures = []

    def expect(ok, what):
        print(f"  {'ok  ' if ok else 'FAIL'} {what}", flush=True)
        if not ok:
            failures.append(what)

    print("check presets against make_goldens and the spec")
    for name, full, count in (("sudoku-extreme-mlp", mg.FULL_SUDOKU_MLP, 5_028_866), ("arc-1", mg.FULL_ARC_ATT, 6_829_058)):
        cfg = PRESETS[name]
        expect(replace(cfg, batch=full.batch, num_puzzle_ids=full.num_puzzle_ids) == full, f"{name} config")
        expect(ref.num_params(cfg) == count, f"{name} num_params {ref.num_params(cfg):,} == {count:,}")
    expect(round(train_flops_per_seq(PRESETS["sudoku-extreme-mlp"]) / 1e9, 2) == 42.72, "sudoku train GFLOP/seq 42.72")
    expect(round(train_flops_per_seq(PRESETS["arc-1"]) / 1e9, 1) == 398.1, "arc train GFLOP/seq 398.1")

    cpu = torch.device("cpu")
    for case, cfg, seed in (("tiny-att", mg.TINY_ATT, 1234), ("tiny-mlp", mg.TINY_MLP, 4321)):
        params32, batch, carry = mg.tiny_case(cfg, seed)
        params = ref.to_compute(params32, torch.float64)
        out, grads = ref.train_step(params, cfg, batch, carry)
        # float32 must agree with the float64 reference to float32 rounding (fp32_drift.py: ~1e-5 of a tensor's
        # max). bf16 differs by a few % after T(n+1) rounded calls (cosine ~0.999 on these cases), so there only
        # the direction of every tensor is checked; q_halt is one cancelling scalar per sequence and only printed.
        for dname in ("float32", "bf16"):
            dtype = DTYPES[dname]
            st = TrainState(cfg, cfg.batch, cpu, dtype, cfg.num_puzzle_ids, weights=params32, data=batch)
            st.y, st.z = carry[0].to(dtype), carry[1].to(dtype)
            st.halted.zero_()                           # keep the golden carry: no reset
            rope = tuple(t.float() for t in ref.rope_tables(cfg)) if cfg.rope and not cfg.mlp_t else None
            fwd = make_forward(cfg, dtype, st.layout, rope)
            local = st.table[st.ids].clone().requires_grad_()
            loss, y, _, _, _, logits, q_halt = fwd(st.master, local, st.h_init, st.l_init, st.y, st.z, st.steps,
                                                   st.halted, st.inputs, st.labels)
            loss.backward()
            names, sizes, shapes = st.layout
            pairs = [("logits", logits, out["logits"]), ("new_y", y, out["new_y"])]
            pairs += [(n, g.view(s), grads[n]) for n, g, s in zip(names, st.master.grad.split(sizes), shapes)]
            pairs.append(("puzzle_emb.weights", local.grad, grads["puzzle_emb.weights"][batch["puzzle_ids"]]))

            def rel(a, b):
                a, b = a.detach().double(), b.detach().double()
                return ((a - b).abs().max() / b.abs().max()).item()

            def cosine(a, b):
                return F.cosine_similarity(a.detach().double().reshape(-1), b.detach().double().reshape(-1), dim=0).item()

            print(f"check {case} {dname} against trm_reference (float64)")
            loss_rel = abs(loss.item() * cfg.batch - out["loss"].item()) / abs(out["loss"].item())
            print(f"       q_halt {q_halt.tolist()} vs {out['q_halt'].tolist()}")
            if dname == "float32":
                expect(loss_rel < 1e-6, f"loss {loss.item() * cfg.batch:.7f} vs {out['loss'].item():.7f}")
                expect(rel(q_halt, out["q_halt"]) < 1e-4, f"q_halt rel {rel(q_halt, out['q_halt']):.1e}")
                worst = max(pairs, key=lambda t: rel(t[1], t[2]))
                expect(rel(worst[1], worst[2]) < 1e-4,
                       f"logits, new_y, {len(pairs) - 2} gradients: worst max|diff|/max {rel(worst[1], worst[2]):.1e} ({worst[0]})")
            else:
                expect(loss_rel < 1e-2, f"loss {loss.item() * cfg.batch:.5f} vs {out['loss'].item():.5f}")
                worst = min(pairs, key=lambda t: cosine(t[1], t[2]))
                expect(cosine(worst[1], worst[2]) > 0.99,
                       f"logits, new_y, {len(pairs) - 2} gradients: lowest cosine {cosine(worst[1], worst[2]):.5f} ({worst[0]})")

    print("check AdamATan2 against the spec 4.2 formula in float64 (3 steps)")
    gen = torch.Generator().manual_seed(7)
    p = torch.randn(1000, generator=gen)
    m, v, t = torch.zeros(1000), torch.zeros(1000), torch.zeros(())
    p64, m64, v64 = p.double(), m.double(), v.double()
    lr, wd = 1e-2, 0.1
    for step in range(1, 4):
        g = torch.randn(1000, generator=gen)
        t += 1
        adam_atan2(p, g, m, v, t, lr, wd)
        g64 = g.double()
        p64 = p64 * (1 - lr * wd)
        m64 = m64 + (1 - BETA1) * (g64 - m64)
        v64 = v64 + (1 - BETA2) * (g64 * g64 - v64)
        p64 = p64 - lr * torch.atan2(m64 / (1 - BETA1 ** step), v64.sqrt() / math.sqrt(1 - BETA2 ** step))
    expect((p.double() - p64).abs().max().item() < 1e-6, f"max |diff| {(p.double() - p64).abs().max().item():.1e}")

    print("check SignSGD (spec 4.3) on repeated ids")
    table = torch.ones(5, 3)
    sign_sgd(table, torch.tensor([3, 1, 3]), torch.tensor([[1., -1., 0.], [2., 2., 2.], [-3., 0., 0.]]), 0.1, 0.5)
    want = torch.ones(5, 3)
    want[1] = 0.95 - 0.1
    want[3] = torch.tensor([0.95 + 0.1, 0.95 + 0.1, 0.95])   # summed grad [-2, -1, 0]
    expect(torch.allclose(table, want), "rows of the batch updated once per unique id, others untouched")

    if failures:
        sys.exit(f"check: {len(failures)} failed")
    print("check: all passed")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", choices=sorted(PRESETS))
    ap.add_argument("--batch", type=int, default=768)
    ap.add_argument("--mode", default="eager", help="eager, compile or a comma list (default eager)")
    ap.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (default cuda)")
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="bf16")
    ap.add_argument("--compile-scope", choices=("step", "net"), default="step",
                    help="compile mode: the whole forward + loss of the step, unrolled (default, as the official "
                         "compiles its model), or only one net call (2 blocks; compiles much faster)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--puzzle-rows", type=int, help="puzzle table rows (default: the spec's count for the preset)")
    ap.add_argument("--matmul-peak", action="store_true", help="measure the dense GEMM rate (n^3 matmuls)")
    ap.add_argument("--gemm-size", type=int, help="n for --matmul-peak (default 8192 on cuda, 1024 on cpu)")
    ap.add_argument("--peak-tflops", type=float, help="adds mfu_vs_gemm = model_tflops / this")
    ap.add_argument("--threads", type=int, help="torch CPU threads")
    ap.add_argument("--verbose", action="store_true", help="print every step")
    ap.add_argument("--check", action="store_true", help="compare this forward with trm_reference on the CPU, then exit")
    ap.add_argument("--saved-memory", action="store_true",
                    help="count the activations eager autograd saves for one step at --batch (no timing)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.check:
        check()
        return
    if not args.matmul_peak and not args.preset:
        ap.error("give --preset, --matmul-peak or --check")
    if args.batch < 1 or args.runs < 1 or args.warmup < 0:
        ap.error("--batch and --runs must be >= 1, --warmup >= 0")
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            sys.exit("bench_device: torch.cuda.is_available() is False")
        print(f"bench_device: {torch.cuda.get_device_name(device)}, torch {torch.__version__}, "
              f"CUDA {torch.version.cuda}", flush=True)
    dtype = DTYPES[args.dtype]
    if args.matmul_peak:
        matmul_peak(args, device, dtype)
    if args.saved_memory:
        if not args.preset:
            ap.error("--saved-memory needs --preset")
        saved_memory(args, device, dtype)
        return
    if args.preset:
        for mode in args.mode.split(","):
            if mode not in ("eager", "compile"):
                ap.error(f"--mode {mode}: eager or compile")
            bench_mode(args, mode, device, dtype)


if __name__ == "__main__":
    main()
