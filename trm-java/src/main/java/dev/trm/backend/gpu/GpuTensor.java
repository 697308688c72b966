package dev.trm.backend.gpu;

import dev.trm.backend.Tensor;
import dev.trm.gpu.DType;
import dev.trm.gpu.DeviceBuffer;

/**
 * A float tensor in device memory: bf16 for activations and their gradients ({@link dev.trm.backend.Backend#activation}),
 * fp32 for everything else (weights, their gradients and optimizer state, norm and softmax statistics, losses).
 *
 * <p>The GEMMs read bf16 only, so an fp32 tensor used as a GEMM operand gets a bf16 copy, {@code half}. For a weight
 * the copy is kept current by every op that writes the tensor (the optimizer writes both in one pass), so the forward
 * never pays a cast; any other fp32 operand (the q head's gradient) is cast at each use.
 */
final class GpuTensor implements Tensor {
    private final int[] shape;
    final DeviceBuffer buf;
    DeviceBuffer half;
    boolean halfMaintained;

    GpuTensor(int[] shape, DeviceBuffer buf) {
        this.shape = shape.clone();
        this.buf = buf;
    }

    @Override
    public int[] shape() {
        return shape.clone();
    }

    boolean isBf16() {
        return buf.type() == DType.BF16;
    }

    @Override
    public String toString() {
        return buf.type() + Tensor.describe(shape);
    }
}
