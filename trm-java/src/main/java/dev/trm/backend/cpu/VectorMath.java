package dev.trm.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector math that gives the same bits whether the JIT has compiled the code or not. The Vector API's own
 * {@code lanewise(EXP)} runs an intrinsic (SVML) once compiled and a scalar fallback before, and the two differ in
 * the last bits; {@code reduceLanes(ADD)} may sum in a different order in the two modes. Either breaks bit-for-bit
 * determinism between runs (a resumed run starts cold). These use only IEEE add, mul, fma and exact conversions.
 */
final class VectorMath {
    private VectorMath() {}

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;          // ln 2 split: the high part has few mantissa bits,
    private static final float LN2_LO = -2.12194440e-4f;       // so n * LN2_HI is exact for |n| < 2^10
    private static final float MAGIC = 12582912f;              // 1.5 * 2^23: adding it rounds to an integer
    private static final float MAX = 88.0f, MIN = -87.0f;

    /**
     * e^x per lane, within about 2 ulp for x in [-87, 88] (clamped outside: tiny or huge but finite). Cody-Waite
     * reduction x = n ln2 + r with |r| <= ln2 / 2, a degree-7 Taylor polynomial for e^r (truncation r^8/8! < 2e-9),
     * and the exponent n inserted into the bits.
     */
    static FloatVector exp(FloatVector x) {
        x = x.max(MIN).min(MAX);
        FloatVector t = x.fma(FloatVector.broadcast(F, LOG2E), FloatVector.broadcast(F, MAGIC));
        FloatVector n = t.sub(MAGIC);
        FloatVector r = n.fma(FloatVector.broadcast(F, -LN2_HI), x);
        r = n.fma(FloatVector.broadcast(F, -LN2_LO), r);
        FloatVector p = FloatVector.broadcast(F, 1f / 5040);
        p = p.fma(r, FloatVector.broadcast(F, 1f / 720));
        p = p.fma(r, FloatVector.broadcast(F, 1f / 120));
        p = p.fma(r, FloatVector.broadcast(F, 1f / 24));
        p = p.fma(r, FloatVector.broadcast(F, 1f / 6));
        p = p.fma(r, FloatVector.broadcast(F, 0.5f));
        p = p.fma(r, FloatVector.broadcast(F, 1f));
        p = p.fma(r, FloatVector.broadcast(F, 1f));
        IntVector bits = ((IntVector) n.convert(VectorOperators.F2I, 0)).add(127).lanewise(VectorOperators.LSHL, 23);
        return p.mul(bits.reinterpretAsFloats());
    }

    /** The same polynomial for one float (loop tails), so vector and scalar lanes agree. */
    static float exp(float x) {
        x = Math.min(Math.max(x, MIN), MAX);
        float n = Math.fma(x, LOG2E, MAGIC) - MAGIC;
        float r = Math.fma(n, -LN2_LO, Math.fma(n, -LN2_HI, x));
        float p = 1f / 5040;
        p = Math.fma(p, r, 1f / 720);
        p = Math.fma(p, r, 1f / 120);
        p = Math.fma(p, r, 1f / 24);
        p = Math.fma(p, r, 1f / 6);
        p = Math.fma(p, r, 0.5f);
        p = Math.fma(p, r, 1f);
        p = Math.fma(p, r, 1f);
        return p * Float.intBitsToFloat(((int) n + 127) << 23);
    }

    /** sigmoid(x) = 1 / (1 + e^-x). */
    static FloatVector sigmoid(FloatVector x) {
        return FloatVector.broadcast(F, 1f).div(exp(x.neg()).add(1f));
    }

    static float sigmoid(float x) {
        return 1f / (1f + exp(-x));
    }

    /** Sum of the lanes in lane order, in double. */
    static double sum(FloatVector v) {
        float[] lanes = v.toArray();
        double s = 0;
        for (float f : lanes) s += f;
        return s;
    }
}
