package dev.trm.gpu;

/**
 * A conditional of a graph under construction (CUDA: the {@code CUgraphConditionalHandle} value; emulated: a key of
 * the emulation library's value table). Made by {@link GraphBuilder#conditional(int)}, set on the device by
 * {@link GraphBuilder#setIfAnyZero}, read by the IF node {@link GraphBuilder#beginIf} places. Valid only with the
 * builder that made it and the graph it ends in; it holds no resource of its own (the graph frees it).
 *
 * @param handle       the driver's handle
 * @param defaultValue the value the conditional takes at the start of every launch of the graph
 */
public record GraphConditional(long handle, int defaultValue) {}
