package dev.ferry.replication.slot;

import dev.ferry.replication.Lsn;
import dev.ferry.replication.stream.ChangeStream;
import dev.ferry.replication.stream.StreamOptions;
import dev.ferry.testing.Deadline;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Slot lifecycle on the default server version. */
@Timeout(120)
class ReplicationSlotsTest {
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static TestPostgres pg;

    @BeforeAll
    static void start() {
        pg = TestPostgres.start();
        pg.execute("postgres", "CREATE TABLE public.t (id int PRIMARY KEY)", "CREATE PUBLICATION p FOR TABLE public.t");
    }

    @AfterAll
    static void stop() {
        pg.close();
    }

    private static Connection replication() throws SQLException {
        return ReplicationConnection.open(pg.jdbcUrl(), new Properties());
    }

    @Test
    void temporarySlotVanishesWhenItsConnectionCloses() throws Exception {
        SlotName name = new SlotName("ferry_temporary");
        try (Connection regular = pg.connect()) {
            try (Connection replication = replication()) {
                ReplicationSlots.create(replication, name, true, TestPostgres.DEFAULT_MAJOR);
                assertTrue(ReplicationSlots.exists(regular, name));
            }
            Deadline.await("temporary slot dropped", WAIT, () -> !exists(regular, name));
        }
    }

    @Test
    void describeReportsThePgReplicationSlotsRow() throws Exception {
        SlotName name = new SlotName("ferry_described");
        try (Connection regular = pg.connect(); Connection replication = replication()) {
            CreatedSlot created = ReplicationSlots.create(replication, name, false, TestPostgres.DEFAULT_MAJOR);
            SlotState state = ReplicationSlots.describe(regular, name).orElseThrow();
            assertEquals(new SlotState(name, "pgoutput", "postgres", false, state.restartLsn(),
                    Optional.of(created.consistentPoint()), Optional.of("reserved")), state);
            assertTrue(state.restartLsn().orElseThrow().compareTo(created.consistentPoint()) <= 0);
            assertFalse(created.snapshotName().isBlank());
            assertEquals(Optional.empty(), ReplicationSlots.describe(regular, new SlotName("ferry_absent")));
            ReplicationSlots.drop(regular, name, WAIT);
            ReplicationSlots.drop(regular, name, WAIT); // absent: nothing to do
            assertFalse(ReplicationSlots.exists(regular, name));
        }
    }

    @Test
    void dropWaitsUntilTheSlotIsInactiveAndRefusesWhileItStaysActive() throws Exception {
        SlotName name = new SlotName("ferry_dropped");
        try (Connection regular = pg.connect()) {
            Connection replication = replication();
            Lsn start = ReplicationSlots.create(replication, name, false, TestPostgres.DEFAULT_MAJOR).consistentPoint();
            ChangeStream stream = ChangeStream.start(replication, name, start, StreamOptions.forServer(15, List.of("p")), Duration.ofMillis(200));
            Deadline.await("slot active", WAIT, () -> describe(regular, name).active());

            SQLException stillActive = assertThrows(SQLException.class, () -> ReplicationSlots.drop(regular, name, Duration.ofMillis(300)));
            assertTrue(stillActive.getMessage().contains("ferry_dropped") && stillActive.getMessage().contains("still active"),
                    stillActive.getMessage());

            stream.close();
            replication.close();
            // The walsender may still hold the slot for a moment after the connection closes; drop waits for it.
            ReplicationSlots.drop(regular, name, WAIT);
            assertFalse(ReplicationSlots.exists(regular, name));
        }
    }

    @Test
    void closingTheStreamLeavesTheConnectionUsable() throws Exception {
        SlotName name = new SlotName("ferry_reused");
        try (Connection regular = pg.connect(); Connection replication = replication()) {
            Lsn start = ReplicationSlots.create(replication, name, true, TestPostgres.DEFAULT_MAJOR).consistentPoint();
            StreamOptions options = StreamOptions.forServer(15, List.of("p"));
            ChangeStream.start(replication, name, start, options, Duration.ofMillis(200)).close();
            try (ChangeStream again = ChangeStream.start(replication, name, start, options, Duration.ofMillis(200))) {
                assertEquals(Optional.empty(), again.poll(Duration.ofMillis(100)));
            }
            assertTrue(ReplicationSlots.exists(regular, name));
        }
    }

    @Test
    void slotNamesAreValidated() {
        assertEquals("ferry_1", new SlotName("ferry_1").toString());
        for (String bad : new String[] {"", "Upper", "with-dash", "spa ce", "x".repeat(64), "quote'"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new SlotName(bad));
            assertTrue(e.getMessage().contains("\"" + bad + "\""), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> new SlotName(null));
    }

    private static boolean exists(Connection regular, SlotName name) {
        try {
            return ReplicationSlots.exists(regular, name);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    private static SlotState describe(Connection regular, SlotName name) {
        try {
            return ReplicationSlots.describe(regular, name).orElseThrow();
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }
}
