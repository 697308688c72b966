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
        reloadCurves(runDir.resolve("metrics.jsonl"));
        try {
            out = Files.newBufferedWriter(runDir.resolve("metrics.jsonl"), StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException(runDir.resolve("metrics.jsonl") + ": cannot write: " + e.getMessage(), e);
        }
    }

    /**
     * On resume: drops the lines of steps after the checkpoint (a killed run may have logged beyond it), rewriting the
     * file atomically, so the log reads as one uninterrupted run.
     */
    public static void truncateAfter(Path runDir, long step) {
        Path f = runDir.resolve("metrics.jsonl");
        if (!Files.exists(f)) return;
        try {
            List<String> keep = new ArrayList<>();
            for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
                if (line.isBlank()) continue;
                Object o;
                try {
                    o = Json.parse(line);
                } catch (RuntimeException torn) {
                    continue;   // a line cut by the kill
                }
                if (Json.asLong(Json.asObject(o, f.toString()).get("step"), f + ": step") <= step) keep.add(line);
            }
            Path tmp = f.resolveSibling("metrics.jsonl.tmp");
            Files.write(tmp, keep, StandardCharsets.UTF_8);
            Files.move(tmp, f, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException(f + ": cannot rewrite on resume: " + e.getMessage(), e);
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

    /** A resumed run's curves start from the lines already logged. */
    private void reloadCurves(Path f) {
        if (!Files.exists(f)) return;
        try {
            for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
                if (line.isBlank()) continue;
                Map<String, Object> o = Json.asObject(Json.parse(line), f.toString());
                double step = Json.asDouble(o.get("step"), "step");
                if (Boolean.TRUE.equals(o.get("eval"))) {
                    if (o.get("exact_accuracy") instanceof Number n) evalExact.add(new double[] {step, n.doubleValue()});
                    continue;
                }
                if (o.get("loss") instanceof Number n) loss.add(new double[] {step, n.doubleValue()});
                if (o.get("halted") instanceof Number h && h.longValue() > 0) {
                    if (o.get("exact_accuracy") instanceof Number n) exact.add(new double[] {step, n.doubleValue()});
                    if (o.get("steps") instanceof Number n) steps.add(new double[] {step, n.doubleValue()});
                }
            }
        } catch (IOException | RuntimeException e) {
            // the curves are a convenience: a log we cannot read back only shortens them
        }
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

    /**
     * Redraws curves.png: loss, train exact accuracy, mean supervision steps, eval exact accuracy. A runtime without
     * the java.desktop module (a jlink'd JRE, e.g. the device pack's) cannot draw: then training goes on without the
     * picture, and says so once (metrics.jsonl holds the same numbers).
     */
    public void plot() {
        if (plotUnavailable) return;
        try {
            CurvePlot.write(List.of(new CurvePlot.Series("loss (train)", smooth(loss)),
                    new CurvePlot.Series("exact accuracy (train, halted slots)", smooth(exact)),
                    new CurvePlot.Series("supervision steps used (train)", smooth(steps)),
                    new CurvePlot.Series("exact accuracy (eval)", evalExact)), dir.resolve("curves.png"));
        } catch (NoClassDefFoundError e) {
            plotUnavailable = true;
            System.err.println("warning: curves.png not drawn: this Java runtime lacks java.desktop (" + e.getMessage()
                    + "); metrics.jsonl has the numbers");
        }
    }

    private boolean plotUnavailable;

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
