package dev.trm.train;

import dev.trm.backend.Backend;
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
    private long t;

    public AdamAtan2(Backend be, TrmParameters p) {
        this.be = be;
        this.params = p.parameters();
        for (Parameter q : params) {
            m.put(q.name(), be.tensor(q.shape()));
            v.put(q.name(), be.tensor(q.shape()));
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
     * keeps the step count ({@link #setSteps}) in line with the row.
     */
    public void step(Tensor schedule, double wd, double beta1, double beta2) {
        for (Parameter q : params) be.adamAtan2(q.value(), q.grad(), m.get(q.name()), v.get(q.name()), schedule, wd, beta1, beta2);
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
