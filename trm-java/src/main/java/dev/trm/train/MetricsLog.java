package dev.trm.train;

import dev.trm.data.Json;
import dev.trm.render.CurvePlot;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A run's metrics: one JSON object per line in {@code metrics.jsonl} (training steps, and evaluations with
 * {@code "eval": true}), flushed as they come, and {@code curves.png} redrawn on request.
 */
public final class MetricsLog implements AutoCloseable {
    private final Path dir;
    private final BufferedWriter out;
    private final List<double[]> loss = new ArrayList<>(), exact = new ArrayList<>(), steps = new ArrayList<>(),
            evalExact = new ArrayList<>();

    public MetricsLog(Path runDir) {
        this.dir = runDir;
        try {
            out = Files.newBufferedWriter(runDir.resolve("metrics.jsonl"), StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException(runDir.resolve("metrics.jsonl") + ": cannot write: " + e.getMessage(), e);
        }
    }

    public void step(StepMetrics m) {
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("step", m.step());
        o.put("lr", m.lr());
        o.put("loss", finite(m.loss()));
        o.put("lm_loss", finite(m.lmLoss()));
        o.put("q_halt_loss", finite(m.qHaltLoss()));
        o.put("halted", m.halted());
        o.put("accuracy", finite(m.accuracy()));
        o.put("exact_accuracy", finite(m.exactAccuracy()));
        o.put("q_halt_accuracy", finite(m.qHaltAccuracy()));
        o.put("steps", finite(m.meanSteps()));
        o.put("ms", m.millis());
        write(o);
        loss.add(new double[] {m.step(), m.loss()});
        if (m.halted() > 0) {
            exact.add(new double[] {m.step(), m.exactAccuracy()});
            steps.add(new double[] {m.step(), m.meanSteps()});
        }
    }

    public void eval(long step, Map<String, Object> metrics) {
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("step", step);
        o.put("eval", true);
        o.putAll(metrics);
        write(o);
        Object e = metrics.get("exact_accuracy");
        if (e instanceof Number n) evalExact.add(new double[] {step, n.doubleValue()});
    }

    private static Object finite(double v) {
        return Double.isFinite(v) ? v : null;
    }

    private void write(Map<String, Object> o) {
        try {
            out.write(Json.write(o));
            out.newLine();
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(dir.resolve("metrics.jsonl") + ": cannot write: " + e.getMessage(), e);
        }
    }

    /** Redraws curves.png: loss, train exact accuracy, mean supervision steps, eval exact accuracy. */
    public void plot() {
        CurvePlot.write(List.of(new CurvePlot.Series("loss (train)", smooth(loss)),
                new CurvePlot.Series("exact accuracy (train, halted slots)", smooth(exact)),
                new CurvePlot.Series("supervision steps used (train)", smooth(steps)),
                new CurvePlot.Series("exact accuracy (eval)", evalExact)), dir.resolve("curves.png"));
    }

    /** Moving average over ~1% of the run, so that thousands of noisy points still draw a readable curve. */
    private static List<double[]> smooth(List<double[]> pts) {
        int k = Math.max(1, pts.size() / 100);
        List<double[]> out = new ArrayList<>();
        double sum = 0;
        for (int i = 0; i < pts.size(); i++) {
            sum += pts.get(i)[1];
            if (i >= k) sum -= pts.get(i - k)[1];
            if (i >= k - 1 && (i % k == 0 || i == pts.size() - 1)) out.add(new double[] {pts.get(i)[0], sum / k});
        }
        return out;
    }

    @Override
    public void close() {
        try {
            out.close();
        } catch (IOException ignored) {
            // closing a flushed log
        }
    }
}
