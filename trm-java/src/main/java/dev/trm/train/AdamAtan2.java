package dev.trm.train;

import dev.trm.backend.Backend;
import dev.trm.backend.MemoryUse;
import dev.trm.backend.Tensor;
import dev.trm.model.Parameter;
import dev.trm.model.TrmParameters;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * AdamATan2 over every trainable parameter (spec 4.2): first and second moments per parameter, fp32 zeros at start,
 * and the step count t (one for all tensors: they are always stepped together). No epsilon, no scale factors; weight
 * decay on every parameter.
 */
public final class AdamAtan2 {
    private final Backend be;
    private final List<Parameter> params;
    private final Map<String, Tensor> m = new LinkedHashMap<>(), v = new LinkedHashMap<>();
    // the same tensors as arrays for the group op, built once: a GPU backend keys its device-side table on them
    private final Tensor[] pAll, gAll, mAll, vAll;
    private long t;

    public AdamAtan2(Backend be, TrmParameters p) {
        p.requireGradients();  // an optimizer over inference parameters would fail later, on a null gradient
        this.be = be;
        this.params = p.parameters();
        try (var use = be.memory().use(MemoryUse.OPTIMIZER_STATE)) {
            for (Parameter q : params) {
                m.put(q.name(), be.tensor(q.shape()));
                v.put(q.name(), be.tensor(q.shape()));
            }
        }
        int n = params.size();
        pAll = new Tensor[n];
        gAll = new Tensor[n];
        mAll = new Tensor[n];
        vAll = new Tensor[n];
        for (int i = 0; i < n; i++) {
            Parameter q = params.get(i);
            pAll[i] = q.value();
            gAll[i] = q.grad();
            mAll[i] = m.get(q.name());
            vAll[i] = v.get(q.name());
        }
    }

    /** One update with the gradients in each parameter's grad. */
    public void step(double lr, double wd, double beta1, double beta2) {
        t++;
        for (Parameter q : params) be.adamAtan2(q.value(), q.grad(), m.get(q.name()), v.get(q.name()), lr, wd, beta1, beta2, t);
    }

    /**
     * One update with lr and the bias corrections read from a schedule row in backend memory (see
     * {@link dev.trm.backend.Backend#SCHEDULE_FIELDS}), so that the ops can be captured once and replayed; the caller
     * keeps the step count ({@link #setSteps}) in line with the row. All parameters in one group op (one launch on a
     * GPU).
     */
    public void step(Tensor schedule, double wd, double beta1, double beta2) {
        be.adamAtan2All(pAll, gAll, mAll, vAll, schedule, wd, beta1, beta2);
    }

    public long steps() {
        return t;
    }

    public void setSteps(long t) {
        this.t = t;
    }

    /** First moments by parameter name (for checkpoints). */
    public Map<String, Tensor> firstMoments() {
        return m;
    }

    /** Second moments by parameter name (for checkpoints). */
    public Map<String, Tensor> secondMoments() {
        return v;
    }
}
