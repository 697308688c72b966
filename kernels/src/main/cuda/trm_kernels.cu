// trm_kernels.cu: the one translation unit built into the fatbin (nvcc) and into the emulation library (g++).
// Table of contents, forward and backward side by side in each file:
// defines: embedding_forward, embedding_backward_tokens, embedding_backward_puzzle
#include "embedding.cu"
// defines: rmsnorm_forward, rmsnorm_backward, rmsnorm_seq_forward, rmsnorm_seq_backward
#include "norm.cu"
// defines: swiglu_forward, swiglu_backward
#include "swiglu.cu"
// defines: gemm_swiglu (the channel MLP's gate_up GEMM on tensor cores with SwiGLU in its epilogue)
#include "gemm_swiglu.cu"
// defines: gemm_mix_swiglu (the token mixer's gate_up GEMM on tensor cores with SwiGLU in its epilogue)
#include "gemm_mix_swiglu.cu"
// defines: gemm_mix_norm (the token mixer's down GEMM on tensor cores with the residual add and the sequence-axis
// RMSNorm in its epilogue)
#include "gemm_mix_norm.cu"
// defines: attention_forward, attention_backward (RoPE fused; the whole backward in one launch)
#include "attention.cu"
// defines: attention_forward_tc, attention_backward_tc (head size 64, tensor cores: WMMA bf16 -> fp32)
#include "attention_tc.cu"
// defines: token_loss (stablemax or softmax CE with its gradient), halting_bce
#include "loss.cu"
// defines: q_head_forward, q_head_backward (the q head read in place from y, and its halting BCE + whole backward;
// after loss.cu, whose haltingBceOne it shares)
#include "q_head.cu"
// defines: adam_atan2, ema, adam_atan2_multi, ema_multi, puzzle_sign_sgd
#include "optimizer.cu"
// defines: add3, accumulate, convert, broadcast_row, broadcast_row_slots, slice_seq
#include "elementwise.cu"
// defines: bias_add, bias_grad, sum_batches, pad_cols
#include "linear.cu"
// defines: act_refill, act_halt, train_metrics
#include "act.cu"
// defines: solve_record (a solve's per-puzzle answers, halting and step counts)
#include "infer.cu"
