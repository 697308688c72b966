package dev.trm.data;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {
    @Test
    void parsesAndWritesRoundTrip() {
        String text = "{\"a\": [1, -2, 3.5e0, true, false, null], \"s\": \"x\\\"y\\n\\u00e9\", \"o\": {}}";
        Object v = Json.parse(text);
        Map<String, Object> m = Json.asObject(v, "doc");
        assertEquals(List.of(1L, -2L, 3.5, true, false), Json.asList(m.get("a"), "a").subList(0, 5));
        assertNull(Json.asList(m.get("a"), "a").get(5));
        assertEquals("x\"y\né", m.get("s"));
        assertEquals(v, Json.parse(Json.write(v)));
        assertEquals("[[1,2],[3]]", Json.write(new int[][] {{1, 2}, {3}}));
    }

    @Test
    void syntaxErrorsNameLineAndColumn() {
        DataException e = assertThrows(DataException.class, () -> Json.parse("{\n  \"a\": [1, 2,, 3]\n}"));
        assertTrue(e.getMessage().contains("line 2, column 14"), e.getMessage());
        assertThrows(DataException.class, () -> Json.parse("[1] x"));
        assertThrows(DataException.class, () -> Json.parse("\"open"));
    }
}
