package dev.ferry.replication;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(10)
class LsnTest {
    @Test
    void parsesAndPrintsLikePostgres() {
        assertEquals(0x16_B374_D848L, Lsn.parse("16/B374D848").value());
        assertEquals("16/B374D848", Lsn.parse("16/b374d848").toString());
        assertEquals("0/16B3748", new Lsn(0x16B3748).toString());
        assertEquals("0/0", Lsn.ZERO.toString());
        assertEquals(Lsn.ZERO, Lsn.parse("0/0"));
        assertEquals("FFFFFFFF/FFFFFFFF", new Lsn(-1).toString());
        assertEquals(new Lsn(-1), Lsn.parse("FFFFFFFF/FFFFFFFF"));
        assertEquals(new Lsn(0x1_0000_0000L), Lsn.parse("00000001/00000000"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "/", "16", "16/", "/B374D848", "16/B374D848/1", "G/0", "1/-1", "+1/0", "123456789/0", "0/1 ", " 0/1", "0x1/0"})
    void rejectsMalformedTextNamingIt(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Lsn.parse(text));
        assertTrue(e.getMessage().contains("\"" + text + "\""), e.getMessage());
    }

    @Test
    void comparesUnsigned() {
        Lsn high = Lsn.parse("FFFFFFFF/0");
        Lsn low = Lsn.parse("7FFFFFFF/FFFFFFFF");
        assertTrue(high.value() < 0, "stored as a negative long");
        assertTrue(high.isAfter(low));
        assertTrue(low.isBefore(high));
        assertFalse(low.isAfter(low));
        assertEquals(0, low.compareTo(new Lsn(low.value())));
        assertEquals(high, Lsn.max(low, high));
        assertEquals(high, Lsn.max(high, low));
        assertTrue(Lsn.ZERO.isBefore(new Lsn(1)));
    }
}
