package dev.trm.golden;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trm.checkpoint.Checkpoint;
import dev.trm.checkpoint.ModelShapes;
import dev.trm.io.SafeTensors;
import dev.trm.model.TrmConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Interop with files written on the Python side: the golden files come from the PyTorch reference's own safetensors
 * writer (insertion order, metadata last, official weight names beside inputs, outputs and gradients). The interop
 * loader takes exactly the model's weights from them and names every other tensor it ignores.
 */
class GoldenInteropTest {

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"tiny-att", "tiny-mlp"})
    void weightsWrittenByThePythonReferenceLoadUnderTheirOfficialNames(String name) {
        Path file = Golden.file(name);
        try (SafeTensors f = SafeTensors.open(file)) {
            TrmConfig c = Golden.config(f);
            List<String> warnings = new ArrayList<>();
            Map<String, float[]> w = Checkpoint.loadWeights(file, c, warnings::add);
            assertEquals(ModelShapes.of(c).keySet(), w.keySet());
            for (String k : w.keySet()) assertArrayEquals(f.floats(k), w.get(k), k);
            long others = f.names().stream().filter(n -> !w.containsKey(n)).count();
            assertEquals(others, warnings.size());
            assertTrue(warnings.stream().anyMatch(m -> m.contains("ignoring tensor 'out.logits'")), String.valueOf(warnings));
        }
    }
}
