package dev.trm.io;

import java.util.Arrays;

/**
 * One tensor's values on the host, with the safetensors dtype it is stored as: what {@link SafeTensorsWriter} writes
 * and what a checkpoint's extra tensors (optimizer moments, EMA shadow, RNG state) come back as. Row-major; the
 * values array is referenced, not copied, so a 1.7 GiB puzzle table is never duplicated on its way to disk.
 */
public sealed interface TensorData {

    /** The safetensors dtype tag: F32, BF16, F64, I32 or I64. */
    String dtype();

    long[] shape();

    /** Elements in the values array (the product of the shape). */
    long elements();

    /** fp32 values stored as F32. */
    record F32(long[] shape, float[] values) implements TensorData {
        public F32 { check(shape, values.length); }
        public String dtype() { return "F32"; }
        public long elements() { return values.length; }
    }

    /** fp32 values stored as BF16, rounded to nearest even on write (as PyTorch's {@code .to(torch.bfloat16)}). */
    record BF16(long[] shape, float[] values) implements TensorData {
        public BF16 { check(shape, values.length); }
        public String dtype() { return "BF16"; }
        public long elements() { return values.length; }
    }

    record F64(long[] shape, double[] values) implements TensorData {
        public F64 { check(shape, values.length); }
        public String dtype() { return "F64"; }
        public long elements() { return values.length; }
    }

    record I32(long[] shape, int[] values) implements TensorData {
        public I32 { check(shape, values.length); }
        public String dtype() { return "I32"; }
        public long elements() { return values.length; }
    }

    record I64(long[] shape, long[] values) implements TensorData {
        public I64 { check(shape, values.length); }
        public String dtype() { return "I64"; }
        public long elements() { return values.length; }
    }

    static F32 f32(float[] values, long... shape) {
        return new F32(shape, values);
    }

    static I64 i64(long[] values, long... shape) {
        return new I64(shape, values);
    }

    /** Bytes one element takes on disk. */
    default int elementBytes() {
        return switch (this) {
            case F32 t -> 4;
            case BF16 t -> 2;
            case F64 t -> 8;
            case I32 t -> 4;
            case I64 t -> 8;
        };
    }

    default long byteSize() {
        return elements() * elementBytes();
    }

    /** The shape as ints (every extent of a host array fits in an int). */
    default int[] intShape() {
        long[] s = shape();
        int[] out = new int[s.length];
        for (int i = 0; i < s.length; i++) out[i] = Math.toIntExact(s[i]);
        return out;
    }

    private static void check(long[] shape, int length) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative extent in shape " + Arrays.toString(shape));
            n *= d;
        }
        if (n != length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " holds " + n + " elements, values " + length);
        }
    }

    /** fp32 to bf16 bits, round to nearest even; NaN stays a (quiet) NaN. */
    static short toBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fffffff) > 0x7f800000) return (short) ((bits >>> 16) | 0x0040);
        return (short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16);
    }

    static float fromBf16(short b) {
        return Float.intBitsToFloat((b & 0xffff) << 16);
    }
}
