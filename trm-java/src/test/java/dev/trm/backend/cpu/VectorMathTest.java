package dev.trm.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/** The deterministic vector exp: accurate to a few ulp, and its vector and scalar forms agree bit for bit. */
class VectorMathTest {

    @Test
    void expIsAccurateAndVectorMatchesScalar() {
        var f = FloatVector.SPECIES_PREFERRED;
        float[] x = new float[f.length()], y = new float[f.length()];
        double worst = 0;
        for (int k = 0; k < 20000; k++) {
            for (int i = 0; i < x.length; i++) x[i] = -87f + (175f * (k * x.length + i)) / (20000f * x.length);
            VectorMath.exp(FloatVector.fromArray(f, x, 0)).intoArray(y, 0);
            for (int i = 0; i < x.length; i++) {
                double want = Math.exp(x[i]);
                worst = Math.max(worst, Math.abs(y[i] - want) / want);
                assertEquals(Float.floatToIntBits(VectorMath.exp(x[i])), Float.floatToIntBits(y[i]), "lane vs scalar at " + x[i]);
            }
        }
        System.out.printf("VectorMath.exp worst relative error on [-87, 88]: %.2e%n", worst);
        assertTrue(worst < 3e-7, "relative error " + worst);
        assertEquals(1f, VectorMath.exp(0f));
    }
}
