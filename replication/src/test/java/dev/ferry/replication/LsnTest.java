package dev.ferry.replication;

import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(120)
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

    @Test
    void anInsertPositionJustPastAPageHeaderIsTakenBackToThePageBoundary() {
        long segment = 16L << 20;
        // Seen at a benchmark's cutover: the walsender stopped at 17/A3792000, the insert position said 17/A3792018.
        assertEquals(Lsn.parse("17/A3792000"), Lsn.parse("17/A3792018").withoutPageHeader(8192, segment));
        assertEquals(Lsn.parse("17/A4000000"), Lsn.parse("17/A4000028").withoutPageHeader(8192, segment), "a segment's first page: 40 bytes");
        assertEquals(Lsn.parse("17/A3792019"), Lsn.parse("17/A3792019").withoutPageHeader(8192, segment), "inside a page: unchanged");
        assertEquals(Lsn.parse("17/A3792018"), Lsn.parse("17/A3792018").withoutPageHeader(16384, segment), "mid-page with 16 kB pages");
        assertEquals(Lsn.parse("17/A3794000"), Lsn.parse("17/A3794018").withoutPageHeader(16384, segment));
    }

    @Test
    void aServerRightAfterASegmentSwitchReportsTheInsertPositionPastTheHeaderAndWritesUpToTheBoundary() {
        try (TestPostgres pg = TestPostgres.start()) {
            List<String> row = pg.query("postgres", "SELECT pg_switch_wal()::text, pg_current_wal_insert_lsn()::text, pg_current_wal_lsn()::text,"
                    + " current_setting('wal_block_size'), pg_size_bytes(current_setting('wal_segment_size'))").get(0);
            Lsn insert = Lsn.parse(row.get(1));
            Lsn written = Lsn.parse(row.get(2));
            assertTrue(insert.isAfter(written), "the insert position points past the new segment's header: " + row);
            assertEquals(written, insert.withoutPageHeader(Integer.parseInt(row.get(3)), Long.parseLong(row.get(4))), row.toString());
        }
    }
}
