package dev.trm.backend.gpu;

import dev.trm.backend.IntTensor;
import dev.trm.gpu.DeviceBuffer;

/** An int32 tensor in device memory: tokens, labels, puzzle ids, per-slot flags. */
final class GpuIntTensor implements IntTensor {
    private final int[] shape;
    final DeviceBuffer buf;

    GpuIntTensor(int[] shape, DeviceBuffer buf) {
        this.shape = shape.clone();
        this.buf = buf;
    }

    @Override
    public int[] shape() {
        return shape.clone();
    }
}
