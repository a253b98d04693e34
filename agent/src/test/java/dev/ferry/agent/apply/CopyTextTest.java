package dev.ferry.agent.apply;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** COPY's text format, as PostgreSQL reads it: the end-to-end proof is FastPathsTest, this pins the format down. */
class CopyTextTest {
    private static String line(String... values) {
        CopyText out = new CopyText(4);
        out.appendRow(values);
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
    void otherCharactersPassAsTheyAreInUtf8() {
        assertEquals("Ünïcode ✓ \"q\" 'q' ,;| 😀\n", line("Ünïcode ✓ \"q\" 'q' ,;| 😀"));
        assertEquals("ü\\\\tab\\tü\n", line("ü\\tab\tü"), "escapes next to multi-byte characters");
    }

    @Test
    void theBufferGrowsForRowsLargerThanItAndKeepsEarlierRows() {
        CopyText out = new CopyText(4);
        String big = "x".repeat(100_000);
        out.appendRow(new String[] {"1", big});
        out.appendRow(new String[] {"2", null});
        assertEquals("1\t" + big + "\n2\t\\N\n", out.toString());
        assertEquals(100_000 + 8, out.length());
    }
}
