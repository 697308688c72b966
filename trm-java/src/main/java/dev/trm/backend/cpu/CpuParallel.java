package dev.trm.backend.cpu;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntConsumer;

/**
 * The CPU backend's one thread pool, shared by every op (GEMM, norms, activations, optimizer).
 *
 * <p>Size: {@code availableProcessors()}, or the system property {@code trm.cpu.threads} when set. Threads are daemons,
 * so an idle pool never keeps the JVM alive.
 *
 * <p>Determinism contract: a parallel loop hands each index (or each chunk of a range) to exactly one task, and which
 * thread runs a task never changes what it computes. Work is claimed dynamically (an atomic counter), which balances
 * load on a machine shared with other processes, but the <em>partition</em> of the work is a fixed function of
 * {@code n} and the thread count. So an op whose tasks write disjoint outputs, each computed in a fixed order, gives
 * bit-identical results run to run.
 *
 * <p>The calling thread works too: it claims tasks like a pool thread and then waits only for tasks already claimed by
 * others. So a {@code parallelFor} called from inside a pool task cannot deadlock (nested loops simply run inline).
 */
public final class CpuParallel {

    /** The body of a range loop: processes indices {@code [start, end)}. */
    @FunctionalInterface
    public interface RangeBody {
        void run(int start, int end);
    }

    private static final CpuParallel SHARED = new CpuParallel(configuredThreads());

    private final int threads;
    private final ExecutorService pool;
    /** The pool's threads, for {@link #poolCpuNanos()}. */
    private final java.util.List<Thread> poolThreads = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** True on this pool's own threads: a nested parallel loop then runs inline instead of queueing behind itself. */
    private final ThreadLocal<Boolean> insideTask = ThreadLocal.withInitial(() -> Boolean.FALSE);

    private CpuParallel(int threads) {
        this.threads = threads;
        AtomicInteger counter = new AtomicInteger();
        this.pool = threads <= 1 ? null : Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "trm-cpu-" + counter.getAndIncrement());
            t.setDaemon(true);
            poolThreads.add(t);
            return t;
        });
    }

    /** The one shared pool. */
    public static CpuParallel shared() {
        return SHARED;
    }

    /** A private pool with an explicit size: for tests and benchmarks that compare thread counts. */
    public static CpuParallel withThreads(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        return new CpuParallel(threads);
    }

    /** How many threads run a parallel loop (including the caller). */
    public int threads() {
        return threads;
    }

    /**
     * CPU time consumed so far by this pool's threads, in nanoseconds (not counting callers). For benchmarks on a
     * shared machine: CPU time, unlike wall time, does not grow while a thread waits for a core.
     */
    public long poolCpuNanos() {
        var mx = java.lang.management.ManagementFactory.getThreadMXBean();
        long sum = 0;
        for (Thread t : poolThreads) sum += Math.max(0, mx.getThreadCpuTime(t.threadId()));
        return sum;
    }

    private static int configuredThreads() {
        String prop = System.getProperty("trm.cpu.threads");
        if (prop == null || prop.isBlank()) return Runtime.getRuntime().availableProcessors();
        try {
            int t = Integer.parseInt(prop.trim());
            if (t < 1) throw new NumberFormatException();
            return t;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("system property trm.cpu.threads must be a positive integer, got '" + prop + "'");
        }
    }

    /**
     * Runs {@code body.accept(i)} once for every {@code i} in {@code [0, n)}, spread over the pool. Meant for coarse
     * tasks (a GEMM tile, a batch row); for fine-grained element loops use {@link #parallelForRange}.
     */
    public void parallelFor(int n, IntConsumer body) {
        if (n <= 0) return;
        if (n == 1 || pool == null || insideTask.get()) {
            for (int i = 0; i < n; i++) body.accept(i);
            return;
        }
        runTasks(n, body);
    }

    /**
     * Splits {@code [0, n)} into contiguous chunks of at least {@code minChunk} indices (the last may be shorter) and
     * runs {@code body.run(start, end)} once per chunk. The chunking depends only on {@code n}, {@code minChunk} and
     * the thread count: up to 4 chunks per thread, so a thread slowed by a neighbour's process does not hold up the
     * loop.
     */
    public void parallelForRange(int n, int minChunk, RangeBody body) {
        if (n <= 0) return;
        if (minChunk < 1) minChunk = 1;
        int chunks = (int) Math.min((long) threads * 4, (n + (long) minChunk - 1) / minChunk);
        if (chunks <= 1 || pool == null || insideTask.get()) {
            body.run(0, n);
            return;
        }
        // Chunk c covers [c*n/chunks, (c+1)*n/chunks): sizes differ by at most one.
        final int count = chunks;
        runTasks(count, c -> body.run((int) ((long) c * n / count), (int) ((long) (c + 1) * n / count)));
    }

    /** Runs tasks {@code 0..n-1} on the caller plus up to {@code threads-1} pool threads, claiming tasks in order. */
    private void runTasks(int n, IntConsumer task) {
        AtomicInteger next = new AtomicInteger();
        CountDownLatch done = new CountDownLatch(n);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Runnable worker = () -> {
            boolean wasInside = insideTask.get();
            insideTask.set(Boolean.TRUE);
            try {
                int i;
                while ((i = next.getAndIncrement()) < n) {
                    try {
                        if (failure.get() == null) task.accept(i);
                    } catch (Throwable t) {
                        failure.compareAndSet(null, t);
                    } finally {
                        done.countDown();
                    }
                }
            } finally {
                insideTask.set(wasInside);
            }
        };
        int helpers = Math.min(threads, n) - 1;
        for (int h = 0; h < helpers; h++) pool.execute(worker);
        worker.run();
        // Every task has been claimed; wait for the ones other threads are still running.
        boolean interrupted = false;
        while (true) {
            try {
                done.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
        Throwable t = failure.get();
        if (t instanceof RuntimeException re) throw re;
        if (t instanceof Error er) throw er;
        if (t != null) throw new RuntimeException(t);
    }
}
