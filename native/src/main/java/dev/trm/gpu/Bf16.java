package dev.trm.gpu;

/** bfloat16 conversions on the host, bit-identical to __float2bfloat16 (round to nearest even) and its inverse. */
public final class Bf16 {
    private Bf16() {}

    public static short fromFloat(float f) {
        int u = Float.floatToRawIntBits(f);
        if ((u & 0x7fffffff) > 0x7f800000) return (short) ((u >>> 16) | 0x40);  // NaN stays a (quiet) NaN
        return (short) ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16);
    }

    public static float toFloat(short b) {
        return Float.intBitsToFloat((b & 0xffff) << 16);
    }

    /** f rounded to the nearest bf16 value, as a float. */
    public static float round(float f) {
        return toFloat(fromFloat(f));
    }
}
