package dev.ferry.replication;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(5)
class LsnTest {
    @Test
    void printsExactlyWhatPostgresPrints() {
        assertEquals("16/B374D848", Lsn.parse("16/B374D848").toString());
        assertEquals("0/0", Lsn.ZERO.toString());
        assertEquals(0x16B374D848L, Lsn.parse("16/b374d848").value());
    }

    @Test
    void comparesUnsigned() {
        Lsn high = Lsn.parse("FFFFFFFF/FFFFFFFF");
        assertTrue(high.isAfter(Lsn.parse("1/0")), "the top half of the range is not negative");
        assertEquals(high, Lsn.max(high, Lsn.ZERO));
    }

    @Test
    void malformedTextIsRejectedNamingTheInput() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Lsn.parse("16-B374"));
        assertTrue(e.getMessage().contains("16-B374"));
        assertThrows(IllegalArgumentException.class, () -> Lsn.parse("1/100000000"));
    }
}
