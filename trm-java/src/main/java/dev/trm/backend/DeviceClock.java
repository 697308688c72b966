package dev.trm.backend;

/**
 * A clock on a device's own timeline, for profiling a backend whose ops return before their work has run (a GPU):
 * {@link #mark} drops a timestamp into the backend's stream of work (a CUDA event), {@link #millisBetween} reads the
 * device time between two marks once the later one has been reached. Backends that run each op to completion on the
 * host have none ({@link Backend#openDeviceClock} returns null): there the wall time of the call is the op's time.
 *
 * <p>Marks are numbered from 0 after each {@link #reset}; the clock keeps the timestamps it made (a pool) until
 * {@link #close}. Not for use while a graph is being captured: a mark must really run to be read.
 */
public interface DeviceClock extends AutoCloseable {
    /** Enqueues a timestamp after every op enqueued so far; returns its number. */
    int mark();

    /** Device milliseconds from mark a to mark b; waits until b has been reached. */
    double millisBetween(int a, int b);

    /** Forgets every mark (their numbers are given out again); marks not yet reached must not be read after this. */
    void reset();

    @Override
    void close();
}
