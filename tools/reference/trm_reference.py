"""Independent float64 PyTorch reference of one TRM supervision step (trm-spec.md sections 1-3).

This is the team's ground truth for the Java backends: it is written from the spec only and
computes EVERYTHING in float64. Weights are float32 values (that is what a checkpoint stores)
upcast to float64 before any arithmetic; there is no bf16 anywhere.

Notation (spec): D hidden size, L task sequence length, P puzzle-prefix length, S = L + P,
B batch, V vocab, T = h_cycles, n = l_cycles. y is the answer (z_H in the official code),
z the latent (z_L).

Parameters live in a plain dict keyed by the official state_dict names without the
`model.inner.` prefix. Linear weights are [out, in] and applied as y = x W^T.
"""

import json
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

IGNORE_LABEL = -100
STABLEMAX_EPS = 1e-30


# ----------------------------------------------------------------------------------------------
# Configuration and parameter layout
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrmConfig:
    vocab_size: int
    seq_len: int            # L
    hidden_size: int        # D
    num_heads: int
    expansion: float
    layers: int
    h_cycles: int           # T
    l_cycles: int           # n
    mlp_t: bool             # token-mixing SwiGLU instead of attention
    rope: bool
    rope_theta: float
    rms_norm_eps: float
    puzzle_emb_len: int     # P
    num_puzzle_ids: int
    loss: str               # "stablemax" | "softmax"
    batch: int

    @property
    def seq(self):
        """S: internal sequence length, puzzle prefix included."""
        return self.seq_len + self.puzzle_emb_len

    @property
    def head_dim(self):
        return self.hidden_size // self.num_heads

    def to_json(self):
        return json.dumps(asdict(self), sort_keys=False)


def swiglu_intermediate(expansion, hidden):
    """I = ceil(round(expansion * hidden * 2/3) / 256) * 256 (spec 1.4; Python round, like the official code)."""
    return -(-round(expansion * hidden * 2 / 3) // 256) * 256


def param_shapes(cfg):
    """Ordered name -> shape of every tensor of the model (the order of the formula weights, spec-case B).

    H_init/L_init are fixed buffers and the puzzle table is a buffer too (not an nn.Parameter),
    but all of them are listed here because the step needs them.
    """
    D, V, S = cfg.hidden_size, cfg.vocab_size, cfg.seq
    inter = swiglu_intermediate(cfg.expansion, D)
    shapes = {
        "H_init": [D],
        "L_init": [D],
        "embed_tokens.embedding_weight": [V, D],
        "puzzle_emb.weights": [cfg.num_puzzle_ids, D],
        "lm_head.weight": [V, D],
        "q_head.weight": [2, D],
        "q_head.bias": [2],
    }
    for l in range(cfg.layers):
        p = f"L_level.layers.{l}."
        if cfg.mlp_t:
            inter_s = swiglu_intermediate(cfg.expansion, S)
            shapes[p + "mlp_t.gate_up_proj.weight"] = [2 * inter_s, S]
            shapes[p + "mlp_t.down_proj.weight"] = [S, inter_s]
        else:
            shapes[p + "self_attn.qkv_proj.weight"] = [3 * D, D]
            shapes[p + "self_attn.o_proj.weight"] = [D, D]
        shapes[p + "mlp.gate_up_proj.weight"] = [2 * inter, D]
        shapes[p + "mlp.down_proj.weight"] = [D, inter]
    return shapes


# Tensors that receive no gradient: fixed initial carry vectors.
NO_GRAD_PARAMS = ("H_init", "L_init")
# Tensors not counted in num_params (spec 1.10): buffers.
BUFFERS = ("H_init", "L_init", "puzzle_emb.weights")


def num_params(cfg):
    """Parameter count as the spec's table counts it (nn.Parameters only)."""
    total = 0
    for name, shape in param_shapes(cfg).items():
        if name not in BUFFERS:
            total += math.prod(shape)
    return total


def fan_in_std(name, shape, hidden):
    """LeCun std of the spec 1.8 init: 1/sqrt(in_features) for Linear, 1/sqrt(D) for embeddings."""
    if name in NO_GRAD_PARAMS:
        return 1.0
    if name in ("embed_tokens.embedding_weight", "puzzle_emb.weights"):
        return 1.0 / math.sqrt(hidden)
    return 1.0 / math.sqrt(shape[-1])


# Std of a unit normal truncated to [-2, 2]: sqrt(1 - 2*a*phi(a)/erf(a/sqrt2)) at a = 2 = 0.8796257.
TRUNCATED_UNIT_STD = math.sqrt(1 - 4 * math.exp(-2.0) / math.sqrt(2 * math.pi) / math.erf(math.sqrt(2)))


def trunc_normal_(t, std, generator=None):
    """JAX-style truncated normal at +-2 sigma with post-truncation std == `std` (spec 1.8).

    u ~ U(erf(-sqrt2), erf(sqrt2)); x = erfinv(u) * sqrt2 * comp_std; clip to +-2 comp_std,
    where comp_std = std / 0.8796257 corrects for the variance lost by truncation.
    """
    if std == 0:
        return t.zero_()
    lo, hi = math.erf(-2 / math.sqrt(2)), math.erf(2 / math.sqrt(2))
    comp_std = std / TRUNCATED_UNIT_STD
    with torch.no_grad():
        t.uniform_(lo, hi, generator=generator)
        t.erfinv_()
        t.mul_(math.sqrt(2) * comp_std)
        t.clamp_(-2 * comp_std, 2 * comp_std)
    return t


def to_compute(params32, dtype=torch.float64):
    """float32 weights -> leaf tensors for compute (float64 for the goldens; float32 only for the
    timing and drift scripts); gradients are tracked where the spec has them."""
    params = {}
    for name, w in params32.items():
        t = torch.as_tensor(w).detach().to(dtype).clone()
        t.requires_grad_(name not in NO_GRAD_PARAMS)
        params[name] = t
    return params


# ----------------------------------------------------------------------------------------------
# Layers (float64 throughout)
# ----------------------------------------------------------------------------------------------

def rms_norm(h, eps):
    """Post-norm RMSNorm without weights over the last axis: h / sqrt(mean(h^2) + eps)."""
    return h * torch.rsqrt(h.pow(2).mean(dim=-1, keepdim=True) + eps)


def linear(x, w):
    """y = x W^T with W [out, in]."""
    return x @ w.t()


def swiglu(x, gate_up, down):
    """down(silu(gate) * up); gate_up rows [0:I) are the gate, [I:2I) are up."""
    gate, up = linear(x, gate_up).chunk(2, dim=-1)
    return linear(F.silu(gate) * up, down)


def rope_tables(cfg, dtype=torch.float64):
    """cos, sin [S, hd] in rotate-half (GPT-NeoX) layout over all S positions, prefix at 0..P-1.

    Built in float64, then cast to the compute dtype."""
    hd = cfg.head_dim
    inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))  # [hd/2]
    pos = torch.arange(cfg.seq, dtype=torch.float64)                                        # [S]
    freqs = torch.outer(pos, inv_freq)                                                       # [S, hd/2]
    emb = torch.cat([freqs, freqs], dim=-1)                                                  # [S, hd]
    return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x):
    """concat(-x[hd/2:], x[:hd/2]) on the last axis: pairs (j, j + hd/2) rotate together."""
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def attention(h, w_qkv, w_o, cfg, rope):
    """Non-causal multi-head self-attention, no mask, scale 1/sqrt(hd).  h: [B, S, D] -> [B, S, D]."""
    B, S, D = h.shape
    H, hd = cfg.num_heads, cfg.head_dim
    qkv = linear(h, w_qkv)                                   # [B, S, 3D]: Q | K | V, head h at h*hd
    q, k, v = (t.reshape(B, S, H, hd).transpose(1, 2) for t in qkv.split(D, dim=-1))  # [B, H, S, hd]
    if rope is not None:
        cos, sin = rope                                      # [S, hd], broadcast over B, H
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(hd)      # [B, H, S, S]
    out = scores.softmax(dim=-1) @ v                         # [B, H, S, hd]
    out = out.transpose(1, 2).reshape(B, S, D)               # heads merged back in row order
    return linear(out, w_o)


def block(h, params, l, cfg, rope):
    """One post-norm block (spec 1.4).  h: [B, S, D] -> [B, S, D]."""
    p = f"L_level.layers.{l}."
    eps = cfg.rms_norm_eps
    if cfg.mlp_t:
        # Token mixer: SwiGLU over the sequence axis; the norm also runs over the sequence axis
        # because the tensor is still transposed.
        t = h.transpose(1, 2)                                                         # [B, D, S]
        t = rms_norm(t + swiglu(t, params[p + "mlp_t.gate_up_proj.weight"],
                                params[p + "mlp_t.down_proj.weight"]), eps)
        h = t.transpose(1, 2)                                                         # [B, S, D]
    else:
        h = rms_norm(h + attention(h, params[p + "self_attn.qkv_proj.weight"],
                                   params[p + "self_attn.o_proj.weight"], cfg, rope), eps)
    return rms_norm(h + swiglu(h, params[p + "mlp.gate_up_proj.weight"],
                               params[p + "mlp.down_proj.weight"]), eps)


def net(hidden, injection, params, cfg, rope):
    """The single shared network L_level: plain elementwise input injection, then the blocks."""
    h = hidden + injection
    for l in range(cfg.layers):
        h = block(h, params, l, cfg, rope)
    return h


def input_embedding(params, inputs, puzzle_ids, cfg):
    """x [B, S, D] = concat(puzzle prefix, token embeddings) * sqrt(D) (spec 1.2).

    The prefix has P slots: slot 0 is the puzzle vector, slots 1..P-1 are zero. Indexing the
    full table means autograd yields the full-table gradient (unused rows stay zero).
    """
    B = inputs.shape[0]
    D, P = cfg.hidden_size, cfg.puzzle_emb_len
    tokens = params["embed_tokens.embedding_weight"][inputs]                  # [B, L, D]
    puzzle = params["puzzle_emb.weights"][puzzle_ids].unsqueeze(1)            # [B, 1, D]
    pad = torch.zeros(B, P - 1, D, dtype=tokens.dtype)                        # [B, P-1, D]
    return torch.cat([puzzle, pad, tokens], dim=1) * math.sqrt(D)


def initial_carry(params, cfg, batch):
    """(y, z) after reset: H_init and L_init broadcast to every one of the S positions."""
    shape = (batch, cfg.seq, cfg.hidden_size)
    return params["H_init"].detach().expand(shape).clone(), params["L_init"].detach().expand(shape).clone()


def recursion_process(params, cfg, rope, y, z, x):
    """One full recursion process: n latent updates z = net(z + y + x), then y = net(y + z)."""
    for _ in range(cfg.l_cycles):
        z = net(z, y + x, params, cfg, rope)
    y = net(y, z, params, cfg, rope)
    return y, z


def warmup_processes(params, cfg, rope, y, z, x):
    """The first T-1 recursion processes, without gradient (spec 2.1)."""
    with torch.no_grad():
        for _ in range(cfg.h_cycles - 1):
            y, z = recursion_process(params, cfg, rope, y, z, x)
    return y, z


def heads(params, cfg, y):
    """lm_head over y with the P prefix positions dropped; q_head on y[:, 0] with bias."""
    logits = linear(y, params["lm_head.weight"])[:, cfg.puzzle_emb_len:]            # [B, L, V]
    q = linear(y[:, 0], params["q_head.weight"]) + params["q_head.bias"]           # [B, 2]
    return logits, q[:, 0], q[:, 1]


# ----------------------------------------------------------------------------------------------
# Losses (spec 3), float64
# ----------------------------------------------------------------------------------------------

def stablemax_s(x):
    """s(x) = 1/(1 - x + 1e-30) for x < 0, x + 1 for x >= 0.

    The clamp keeps the unused branch finite so torch.where cannot leak inf/NaN into gradients;
    values are identical to the spec's formula.
    """
    return torch.where(x < 0, 1.0 / (1.0 - x.clamp(max=0) + STABLEMAX_EPS), x + 1.0)


def log_probs(logits, loss):
    """Per-class log probabilities [B, L, V] in float64 under the chosen loss."""
    logits = logits.to(torch.float64)
    if loss == "stablemax":
        s = stablemax_s(logits)
        return s.log() - s.sum(dim=-1, keepdim=True).log()
    if loss == "softmax":
        return logits.log_softmax(dim=-1)
    raise ValueError(f"unknown loss '{loss}'")


def losses(logits, q_halt, labels, loss):
    """lm_loss, q_halt_loss, total loss (not divided by B), per-sequence lm, seq_correct.

    labels: [B, L] int, -100 = ignored.
    """
    mask = labels != IGNORE_LABEL                                                    # [B, L]
    safe_labels = torch.where(mask, labels, torch.zeros_like(labels)).long()
    logp = log_probs(logits, loss).gather(-1, safe_labels.unsqueeze(-1)).squeeze(-1)  # [B, L]
    token_ce = torch.where(mask, -logp, torch.zeros_like(logp))
    counts = mask.sum(dim=-1)                                                        # [B]
    per_seq_lm = token_ce.sum(dim=-1) / counts.clamp(min=1).to(torch.float64)        # mean over valid
    lm_loss = per_seq_lm.sum()

    with torch.no_grad():
        correct = mask & (logits.argmax(dim=-1) == labels)
        seq_correct = correct.sum(dim=-1) == counts                                  # [B] bool
    q_halt_loss = F.binary_cross_entropy_with_logits(
        q_halt.to(torch.float64), seq_correct.to(torch.float64), reduction="sum")
    total = lm_loss + 0.5 * q_halt_loss
    return {
        "lm_loss": lm_loss,
        "q_halt_loss": q_halt_loss,
        "loss": total,
        "per_seq_lm": per_seq_lm,
        "seq_correct": seq_correct,
    }


def stablemax_ce_grad(x, label):
    """The spec's hand-written stablemax CE backward for one token (used only to check autograd).

    dCE/dx_j = s'(x_j)/sum(s) - [j == y] * s'(x_y)/s(x_y), s'(x) = 1/(1-x)^2 for x < 0, else 1.
    """
    s = stablemax_s(x)
    ds = torch.where(x < 0, 1.0 / (1.0 - x.clamp(max=0)) ** 2, torch.ones_like(x))
    g = ds / s.sum()
    g[label] -= ds[label] / s[label]
    return g


# ----------------------------------------------------------------------------------------------
# One supervision step
# ----------------------------------------------------------------------------------------------

def compute_dtype(params):
    return params["lm_head.weight"].dtype


def rope_for(cfg, params):
    """RoPE tables when the config uses attention with RoPE, else None."""
    return rope_tables(cfg, compute_dtype(params)) if (cfg.rope and not cfg.mlp_t) else None


def grad_segment(params, cfg, batch, y, z):
    """Everything that carries gradient, from a carry that is treated as constant.

    Runs the input embedding, the last recursion process, the heads and the losses.
    Returns a dict with the new carry (detached), logits, q logits and the loss terms.
    """
    rope = rope_for(cfg, params)
    x = input_embedding(params, batch["inputs"], batch["puzzle_ids"], cfg)
    y, z = recursion_process(params, cfg, rope, y.detach(), z.detach(), x)
    logits, q_halt, q_continue = heads(params, cfg, y)
    out = losses(logits, q_halt, batch["labels"], cfg.loss)
    out.update(logits=logits, q_halt=q_halt, q_continue=q_continue,
               new_y=y.detach(), new_z=z.detach())
    return out


def warm_carry(params, cfg, batch, y, z):
    """Carry after the T-1 no-grad processes (x recomputed without gradient)."""
    rope = rope_for(cfg, params)
    with torch.no_grad():
        x = input_embedding(params, batch["inputs"], batch["puzzle_ids"], cfg)
        return warmup_processes(params, cfg, rope, y, z, x)


def inner_step(params, cfg, batch, carry):
    """One supervision step (spec 2.1): T-1 processes under no_grad, one with gradient."""
    dtype = compute_dtype(params)
    y, z = warm_carry(params, cfg, batch, carry[0].to(dtype), carry[1].to(dtype))
    return grad_segment(params, cfg, batch, y, z)


def train_step(params, cfg, batch, carry):
    """inner_step, then backward of loss / B. Returns (outputs, grads) with grads keyed by name."""
    for p in params.values():
        p.grad = None
    out = inner_step(params, cfg, batch, carry)
    B = batch["inputs"].shape[0]
    (out["loss"] / B).backward()
    grads = {name: p.grad.detach().clone() for name, p in params.items()
             if name not in NO_GRAD_PARAMS}
    return out, grads
