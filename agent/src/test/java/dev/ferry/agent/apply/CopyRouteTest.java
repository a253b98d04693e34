package dev.ferry.agent.apply;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** COPY's text format, as PostgreSQL reads it: the end-to-end proof is FastPathsTest, this pins the format down. */
class CopyRouteTest {
    private static String line(String... values) {
        StringBuilder out = new StringBuilder();
        CopyRoute.appendRow(out, values);
        return out.toString();
    }

    @Test
    void valuesAreTabSeparatedAndNullIsBackslashN() {
        assertEquals("1\t\\N\t\tplain\n", line("1", null, "", "plain"));
    }

    @Test
    void backslashesTabsAndLineBreaksAreEscapedSoNoValueCanEndItsLineOrField() {
        assertEquals("a\\\\b\t\\\\N\tx\\ty\\nz\\r\n", line("a\\b", "\\N", "x\ty\nz\r"));
    }

    @Test
    void otherCharactersPassAsTheyAre() {
        assertEquals("Ünïcode ✓ \"q\" 'q' ,;|\n", line("Ünïcode ✓ \"q\" 'q' ,;|"));
    }
}
