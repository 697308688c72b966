package dev.trm.backend.ref;

/**
 * The double-precision reference of every TRM op: plain loops, written to be obviously right rather than fast.
 *
 * <p>It is the oracle three ways: finite-difference gradient checks run on it (in double, where they are sharp), the
 * fp32 CPU backend is compared against it op by op, and the GPU kernels ({@code trm selftest}) are compared against it
 * on random inputs. Each forward is followed by its backward. All arrays are row-major and flat, shapes in brackets.
 * Convention (llm.c): activation gradients are written with {@code =}, parameter gradients accumulate with {@code +=}.
 */
public final class RefOps {
    private RefOps() {}

    // ---------------------------------------------------------------------------------------------------------------
    // GEMM

    /**
     * C[m,n] = alpha * op(A) op(B) + beta * C, row-major; op(A) is m x k (A stored k x m when transA), op(B) is k x n
     * (B stored n x k when transB). beta == 0 ignores C's old contents.
     */
    public static void gemm(boolean transA, boolean transB, int m, int n, int k, double alpha,
                            double[] a, int lda, double[] b, int ldb, double beta, double[] c, int ldc) {
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double acc = 0;
                for (int p = 0; p < k; p++) {
                    double av = transA ? a[p * lda + i] : a[i * lda + p];
                    double bv = transB ? b[j * ldb + p] : b[p * ldb + j];
                    acc += av * bv;
                }
                c[i * ldc + j] = alpha * acc + (beta == 0 ? 0 : beta * c[i * ldc + j]);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Residual + RMSNorm without weight (post-norm): out = (x + r) * rstd

    /** Along the last axis. x, r (nullable), out: [rows, dim]; rstd: [rows]. */
    public static void rmsNormForward(double[] x, double[] r, double[] out, double[] rstd, int rows, int dim, double eps) {
        for (int i = 0; i < rows; i++) {
            double ss = 0;
            for (int j = 0; j < dim; j++) {
                double h = x[i * dim + j] + (r == null ? 0 : r[i * dim + j]);
                out[i * dim + j] = h;
                ss += h * h;
            }
            double s = 1.0 / Math.sqrt(ss / dim + eps);
            rstd[i] = s;
            for (int j = 0; j < dim; j++) out[i * dim + j] *= s;
        }
    }

    /**
     * dh = rstd * (dout - out * mean(dout * out)): the gradient w.r.t. h = x + r (so w.r.t. both x and r).
     * Derivation: out_j = h_j r with r = (mean h^2 + eps)^-1/2 and dr/dh_j = -r^3 h_j / dim.
     */
    public static void rmsNormBackward(double[] out, double[] rstd, double[] dout, double[] dh, int rows, int dim) {
        for (int i = 0; i < rows; i++) {
            double dot = 0;
            for (int j = 0; j < dim; j++) dot += dout[i * dim + j] * out[i * dim + j];
            double mean = dot / dim;
            for (int j = 0; j < dim; j++) {
                dh[i * dim + j] = rstd[i] * (dout[i * dim + j] - out[i * dim + j] * mean);
            }
        }
    }

    /** The token mixer's norm: over the sequence axis of [batch, seq, dim], for each (b, d). rstd: [batch, dim]. */
    public static void rmsNormSeqForward(double[] x, double[] r, double[] out, double[] rstd,
                                         int batch, int seq, int dim, double eps) {
        for (int b = 0; b < batch; b++) {
            for (int d = 0; d < dim; d++) {
                double ss = 0;
                for (int s = 0; s < seq; s++) {
                    int i = (b * seq + s) * dim + d;
                    double h = x[i] + (r == null ? 0 : r[i]);
                    out[i] = h;
                    ss += h * h;
                }
                double sc = 1.0 / Math.sqrt(ss / seq + eps);
                rstd[b * dim + d] = sc;
                for (int s = 0; s < seq; s++) out[(b * seq + s) * dim + d] *= sc;
            }
        }
    }

    public static void rmsNormSeqBackward(double[] out, double[] rstd, double[] dout, double[] dh,
                                          int batch, int seq, int dim) {
        for (int b = 0; b < batch; b++) {
            for (int d = 0; d < dim; d++) {
                double dot = 0;
                for (int s = 0; s < seq; s++) {
                    int i = (b * seq + s) * dim + d;
                    dot += dout[i] * out[i];
                }
                double mean = dot / seq, sc = rstd[b * dim + d];
                for (int s = 0; s < seq; s++) {
                    int i = (b * seq + s) * dim + d;
                    dh[i] = sc * (dout[i] - out[i] * mean);
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // SwiGLU activation: out = silu(gate) * up, gu = (gate | up) per row

    public static void swigluForward(double[] gu, double[] out, int rows, int inter) {
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < inter; j++) {
                double g = gu[i * 2 * inter + j], u = gu[i * 2 * inter + inter + j];
                out[i * inter + j] = g * sigmoid(g) * u;
            }
        }
    }

    /** d gate = dout * up * silu'(gate), silu'(g) = sigma(g) (1 + g (1 - sigma(g))); d up = dout * silu(gate). */
    public static void swigluBackward(double[] gu, double[] dout, double[] dgu, int rows, int inter) {
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < inter; j++) {
                double g = gu[i * 2 * inter + j], u = gu[i * 2 * inter + inter + j];
                double sg = sigmoid(g), dy = dout[i * inter + j];
                dgu[i * 2 * inter + j] = dy * u * sg * (1 + g * (1 - sg));
                dgu[i * 2 * inter + inter + j] = dy * g * sg;
            }
        }
    }

    static double sigmoid(double x) {
        return 1.0 / (1.0 + Math.exp(-x));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Token loss (spec section 3): per-sequence mean of the token cross-entropy over valid tokens

    public static final int IGNORE_LABEL = -100;

    /**
     * logits [batch, len, vocab]; labels [batch, len] (-100 ignored). Writes perSeqLoss [batch] (0 when a sequence has
     * no valid token), seqCorrect [batch] (1 iff every valid token's first argmax equals its label) and dlogits
     * [batch, len, vocab] = gradScale * d perSeqLoss[b] / d logits.
     *
     * <p>Stablemax (Prieto et al.): s(x) = x + 1 for x >= 0, 1 / (1 - x) for x < 0; p_j = s_j / sum_k s_k.
     * d CE / d x_j = s'(x_j) / S - [j = y] s'(x_y) / s(x_y), with s'(x) = 1 for x >= 0, 1 / (1 - x)^2 below.
     */
    public static void crossEntropy(boolean stablemax, double[] logits, int[] labels, double[] perSeqLoss,
                                    int[] seqCorrect, double[] dlogits, int batch, int len, int vocab, double gradScale) {
        for (int b = 0; b < batch; b++) {
            int valid = 0;
            for (int t = 0; t < len; t++) if (labels[b * len + t] != IGNORE_LABEL) valid++;
            double inv = 1.0 / Math.max(1, valid);
            double sum = 0;
            boolean allCorrect = true;
            for (int t = 0; t < len; t++) {
                int row = (b * len + t) * vocab;
                int y = labels[b * len + t];
                if (y == IGNORE_LABEL) {
                    for (int j = 0; j < vocab; j++) dlogits[row + j] = 0;
                    continue;
                }
                if (y < 0 || y >= vocab) throw new IllegalArgumentException("label " + y + " outside vocab " + vocab);
                int arg = 0;
                for (int j = 1; j < vocab; j++) if (logits[row + j] > logits[row + arg]) arg = j;
                allCorrect &= arg == y;
                if (stablemax) {
                    double total = 0;
                    for (int j = 0; j < vocab; j++) total += stable(logits[row + j]);
                    double xy = logits[row + y];
                    sum += Math.log(total) - Math.log(stable(xy));
                    for (int j = 0; j < vocab; j++) {
                        double g = stableDerivative(logits[row + j]) / total;
                        if (j == y) g -= stableDerivative(xy) / stable(xy);
                        dlogits[row + j] = gradScale * inv * g;
                    }
                } else {
                    double max = logits[row + arg], total = 0;
                    for (int j = 0; j < vocab; j++) total += Math.exp(logits[row + j] - max);
                    sum += Math.log(total) + max - logits[row + y];
                    for (int j = 0; j < vocab; j++) {
                        double g = Math.exp(logits[row + j] - max) / total - (j == y ? 1 : 0);
                        dlogits[row + j] = gradScale * inv * g;
                    }
                }
            }
            perSeqLoss[b] = sum * inv;
            seqCorrect[b] = allCorrect ? 1 : 0;
        }
    }

    static double stable(double x) {
        return x >= 0 ? x + 1 : 1.0 / (1.0 - x);
    }

    static double stableDerivative(double x) {
        return x >= 0 ? 1 : 1.0 / ((1.0 - x) * (1.0 - x));
    }

    /** Returns sum_b BCEWithLogits(qHalt[b], target[b]); dq[b] = gradScale * (sigmoid(qHalt[b]) - target[b]). */
    public static double haltingBce(double[] qHalt, int[] target, double[] dq, int batch, double gradScale) {
        double sum = 0;
        for (int b = 0; b < batch; b++) {
            double x = qHalt[b], t = target[b];
            sum += Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));
            dq[b] = gradScale * (sigmoid(x) - t);
        }
        return sum;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Input embedding (spec 1.2): puzzle prefix (slot 0 learned, 1..P-1 zero) then tokens, all times sqrt(D)

    /** x [batch, prefix + len, dim]; embed [vocab, dim]; table [ids, dim]. */
    public static void embedForward(int[] tokens, int[] puzzleIds, double[] embed, double[] table, double[] x,
                                    int batch, int len, int dim, int prefix, double scale) {
        int seq = prefix + len;
        for (int b = 0; b < batch; b++) {
            int base = b * seq * dim;
            java.util.Arrays.fill(x, base, base + prefix * dim, 0.0);
            int pid = puzzleIds[b];
            for (int j = 0; j < dim; j++) x[base + j] = table[pid * dim + j] * scale;
            for (int t = 0; t < len; t++) {
                int tok = tokens[b * len + t];
                for (int j = 0; j < dim; j++) x[base + (prefix + t) * dim + j] = embed[tok * dim + j] * scale;
            }
        }
    }

    /** dEmbed [vocab, dim] +=; dPuzzle [batch, dim] = the gradient of each slot's puzzle row. */
    public static void embedBackward(int[] tokens, double[] dx, double[] dEmbed, double[] dPuzzle,
                                     int batch, int len, int dim, int prefix, double scale) {
        int seq = prefix + len;
        for (int b = 0; b < batch; b++) {
            int base = b * seq * dim;
            for (int j = 0; j < dim; j++) dPuzzle[b * dim + j] = dx[base + j] * scale;
            for (int t = 0; t < len; t++) {
                int tok = tokens[b * len + t];
                for (int j = 0; j < dim; j++) dEmbed[tok * dim + j] += dx[base + (prefix + t) * dim + j] * scale;
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Attention with RoPE (spec 1.3, 1.4)

    /** cos, sin [seq, headDim], rotate-half layout: frequency i = theta^(-2i/hd) for i < hd/2, repeated twice. */
    public static void ropeTables(int seq, int headDim, double theta, double[] cos, double[] sin) {
        int half = headDim / 2;
        for (int p = 0; p < seq; p++) {
            for (int j = 0; j < headDim; j++) {
                int i = j % half;
                double angle = p * Math.pow(theta, -2.0 * i / headDim);
                cos[p * headDim + j] = Math.cos(angle);
                sin[p * headDim + j] = Math.sin(angle);
            }
        }
    }

    /** v' = v cos + rotate_half(v) sin, rotate_half(v) = (-v[half:], v[:half]); in place on v[off .. off+hd). */
    static void rotate(double[] v, int off, double[] cos, double[] sin, int pos, int hd) {
        int half = hd / 2;
        double[] tmp = new double[hd];
        for (int j = 0; j < hd; j++) {
            double rot = j < half ? -v[off + j + half] : v[off + j - half];
            tmp[j] = v[off + j] * cos[pos * hd + j] + rot * sin[pos * hd + j];
        }
        System.arraycopy(tmp, 0, v, off, hd);
    }

    /** The transpose of {@link #rotate}: maps a gradient w.r.t. the rotated vector to the un-rotated one. */
    static void rotateBackward(double[] g, int off, double[] cos, double[] sin, int pos, int hd) {
        int half = hd / 2;
        double[] tmp = new double[hd];
        for (int j = 0; j < hd; j++) {
            double v = g[off + j] * cos[pos * hd + j];
            // v_j feeds rotated element j+half with +sin (j < half), element j-half with -sin (j >= half)
            if (j < half) v += g[off + j + half] * sin[pos * hd + j + half];
            else v -= g[off + j - half] * sin[pos * hd + j - half];
            tmp[j] = v;
        }
        System.arraycopy(tmp, 0, g, off, hd);
    }

    /**
     * Non-causal MHA over qkv [batch, seq, 3*dim] (Q | K | V; head h owns columns h*hd .. h*hd+hd-1 in each third),
     * RoPE on Q and K when cos != null, scale 1/sqrt(hd). out [batch, seq, dim]; lse [batch, heads, seq].
     */
    public static void attentionForward(double[] qkv, double[] out, double[] lse, double[] cos, double[] sin,
                                        int batch, int seq, int heads, int headDim) {
        int dim = heads * headDim;
        double scale = 1.0 / Math.sqrt(headDim);
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                double[] q = new double[seq * headDim], k = new double[seq * headDim], v = new double[seq * headDim];
                gatherHead(qkv, b, h, seq, dim, headDim, q, k, v, cos, sin);
                double[] p = new double[seq];
                for (int i = 0; i < seq; i++) {
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < seq; j++) {
                        double s = 0;
                        for (int d = 0; d < headDim; d++) s += q[i * headDim + d] * k[j * headDim + d];
                        p[j] = s * scale;
                        max = Math.max(max, p[j]);
                    }
                    double total = 0;
                    for (int j = 0; j < seq; j++) total += Math.exp(p[j] - max);
                    double l = max + Math.log(total);
                    lse[(b * heads + h) * seq + i] = l;
                    for (int d = 0; d < headDim; d++) {
                        double acc = 0;
                        for (int j = 0; j < seq; j++) acc += Math.exp(p[j] - l) * v[j * headDim + d];
                        out[(b * seq + i) * dim + h * headDim + d] = acc;
                    }
                }
            }
        }
    }

    /** dqkv [batch, seq, 3*dim] = the gradient w.r.t. the un-rotated q, k and v. */
    public static void attentionBackward(double[] qkv, double[] out, double[] lse, double[] dout, double[] dqkv,
                                         double[] cos, double[] sin, int batch, int seq, int heads, int headDim) {
        int dim = heads * headDim;
        double scale = 1.0 / Math.sqrt(headDim);
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                double[] q = new double[seq * headDim], k = new double[seq * headDim], v = new double[seq * headDim];
                gatherHead(qkv, b, h, seq, dim, headDim, q, k, v, cos, sin);
                double[] dq = new double[seq * headDim], dk = new double[seq * headDim], dv = new double[seq * headDim];
                for (int i = 0; i < seq; i++) {
                    int oRow = (b * seq + i) * dim + h * headDim;
                    // D_i = sum_j P_ij dP_ij = dO_i . O_i
                    double di = 0;
                    for (int d = 0; d < headDim; d++) di += dout[oRow + d] * out[oRow + d];
                    double l = lse[(b * heads + h) * seq + i];
                    for (int j = 0; j < seq; j++) {
                        double s = 0;
                        for (int d = 0; d < headDim; d++) s += q[i * headDim + d] * k[j * headDim + d];
                        double pij = Math.exp(s * scale - l);
                        double dpij = 0;
                        for (int d = 0; d < headDim; d++) {
                            dpij += dout[oRow + d] * v[j * headDim + d];
                            dv[j * headDim + d] += pij * dout[oRow + d];
                        }
                        double ds = pij * (dpij - di) * scale;
                        for (int d = 0; d < headDim; d++) {
                            dq[i * headDim + d] += ds * k[j * headDim + d];
                            dk[j * headDim + d] += ds * q[i * headDim + d];
                        }
                    }
                }
                for (int s = 0; s < seq; s++) {
                    if (cos != null) {
                        rotateBackward(dq, s * headDim, cos, sin, s, headDim);
                        rotateBackward(dk, s * headDim, cos, sin, s, headDim);
                    }
                    int row = (b * seq + s) * 3 * dim + h * headDim;
                    for (int d = 0; d < headDim; d++) {
                        dqkv[row + d] = dq[s * headDim + d];
                        dqkv[row + dim + d] = dk[s * headDim + d];
                        dqkv[row + 2 * dim + d] = dv[s * headDim + d];
                    }
                }
            }
        }
    }

    private static void gatherHead(double[] qkv, int b, int h, int seq, int dim, int headDim,
                                   double[] q, double[] k, double[] v, double[] cos, double[] sin) {
        for (int s = 0; s < seq; s++) {
            int row = (b * seq + s) * 3 * dim + h * headDim;
            System.arraycopy(qkv, row, q, s * headDim, headDim);
            System.arraycopy(qkv, row + dim, k, s * headDim, headDim);
            System.arraycopy(qkv, row + 2 * dim, v, s * headDim, headDim);
            if (cos != null) {
                rotate(q, s * headDim, cos, sin, s, headDim);
                rotate(k, s * headDim, cos, sin, s, headDim);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Optimizers (spec 4.2 - 4.4)

    /** AdamATan2 in place, step t >= 1: decoupled decay, lerp moments, atan2 of the bias-corrected moments (no eps). */
    public static void adamAtan2(double[] p, double[] g, double[] m, double[] v, int n,
                                 double lr, double wd, double beta1, double beta2, long t) {
        double c1 = 1 - Math.pow(beta1, t), c2 = Math.sqrt(1 - Math.pow(beta2, t));
        for (int i = 0; i < n; i++) {
            p[i] *= 1 - lr * wd;
            m[i] += (1 - beta1) * (g[i] - m[i]);
            v[i] += (1 - beta2) * (g[i] * g[i] - v[i]);
            p[i] -= lr * Math.atan2(m[i] / c1, Math.sqrt(v[i]) / c2);
        }
    }

    /** shadow = rate * shadow + (1 - rate) * p. */
    public static void ema(double[] shadow, double[] p, int n, double rate) {
        for (int i = 0; i < n; i++) shadow[i] = rate * shadow[i] + (1 - rate) * p[i];
    }

    /** Sign-SGD with decoupled decay on distinct rows only: row = row (1 - lr wd) - lr sign(grad). */
    public static void signSgdRows(double[] table, int dim, int[] rows, double[] gradRows, int count,
                                   double lr, double wd) {
        for (int r = 0; r < count; r++) {
            int base = rows[r] * dim;
            for (int j = 0; j < dim; j++) {
                table[base + j] = table[base + j] * (1 - lr * wd) - lr * Math.signum(gradRows[r * dim + j]);
            }
        }
    }
}
