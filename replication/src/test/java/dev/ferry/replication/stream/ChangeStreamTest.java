package dev.ferry.replication.stream;

import dev.ferry.replication.Lsn;
import dev.ferry.replication.pgoutput.Commit;
import dev.ferry.replication.pgoutput.Insert;
import dev.ferry.replication.pgoutput.TupleValue;
import dev.ferry.replication.slot.CreatedSlot;
import dev.ferry.replication.slot.ReplicationConnection;
import dev.ferry.replication.slot.ReplicationSlots;
import dev.ferry.replication.slot.SlotName;
import dev.ferry.testing.Deadline;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** A slot's exported snapshot, streaming and confirmation against real servers of several majors. */
@Timeout(120)
class ChangeStreamTest {
    private static final SlotName SLOT = new SlotName("stream_test");

    @ParameterizedTest(name = "PostgreSQL {0}")
    @ValueSource(ints = {13, 14, 16, 18})
    void snapshotAndStreamMeetAtTheConsistentPointAndConfirmationIsExact(int major) throws Exception {
        assumeTrue(TestPostgres.available(major), "no PostgreSQL " + major + " binaries");
        try (TestPostgres pg = TestPostgres.start(major, Map.of())) {
            pg.execute("postgres", "CREATE TABLE t (id int PRIMARY KEY)", "CREATE PUBLICATION p FOR TABLE t", "INSERT INTO t VALUES (1)");
            Lsn confirmedOnce;
            try (Connection replication = ReplicationConnection.open(pg.jdbcUrl(), new Properties())) {
                CreatedSlot slot = ReplicationSlots.create(replication, SLOT, false, major);
                pg.execute("postgres", "INSERT INTO t VALUES (2)");
                try (Connection reader = pg.connect(); Statement s = reader.createStatement()) {
                    s.execute("BEGIN ISOLATION LEVEL REPEATABLE READ");
                    s.execute("SET TRANSACTION SNAPSHOT '" + slot.snapshotName() + "'");
                    try (ResultSet rs = s.executeQuery("SELECT string_agg(id::text, ',' ORDER BY id) FROM t")) {
                        rs.next();
                        assertEquals("1", rs.getString(1), "the snapshot sees rows from before the slot only");
                    }
                    s.execute("COMMIT");
                }
                pg.execute("postgres", "INSERT INTO t VALUES (3)");
                try (Connection streamConnection = ReplicationConnection.open(pg.jdbcUrl(), new Properties());
                     ChangeStream stream = ChangeStream.start(streamConnection, SLOT, slot.consistentPoint(),
                             StreamOptions.forServer(major, List.of("p")), Duration.ofMillis(200))) {
                    List<String> ids = new ArrayList<>();
                    Lsn firstCommitEnd = null;
                    while (ids.size() < 2 || firstCommitEnd == null) {
                        Optional<WalMessage> m = stream.poll(Duration.ofSeconds(10));
                        assertTrue(m.isPresent(), "changes after the slot arrive");
                        if (m.get().message() instanceof Insert insert) ids.add(((TupleValue.Text) insert.row().values().get(0)).value());
                        if (m.get().message() instanceof Commit commit && firstCommitEnd == null) firstCommitEnd = commit.endLsn();
                    }
                    assertEquals(List.of("2", "3"), ids, "exactly the rows the snapshot did not see");
                    confirmedOnce = firstCommitEnd;
                    stream.confirm(firstCommitEnd);
                    Lsn expected = firstCommitEnd;
                    Deadline.await("confirmed_flush_lsn to reach " + expected, Duration.ofSeconds(30), () -> {
                        drain(stream);
                        return confirmed(pg).equals(expected);
                    });
                    pg.execute("postgres", "SELECT 1"); // nothing to decode; keepalives keep coming
                    Deadline.await("the stream to report a position past the last commit", Duration.ofSeconds(30), () -> {
                        drain(stream);
                        return !stream.lastReceivedLsn().isBefore(expected);
                    });
                    assertEquals(expected, confirmed(pg), "never confirmed beyond what was confirmed");
                }
            }
            // Restarting from the confirmed position redelivers only the unconfirmed transaction (id 3).
            try (Connection streamConnection = ReplicationConnection.open(pg.jdbcUrl(), new Properties());
                 ChangeStream stream = ChangeStream.start(streamConnection, SLOT, confirmedOnce, StreamOptions.forServer(major, List.of("p")), Duration.ofSeconds(1))) {
                Optional<WalMessage> m;
                List<String> ids = new ArrayList<>();
                while ((m = stream.poll(Duration.ofSeconds(2))).isPresent()) {
                    if (m.get().message() instanceof Insert insert) ids.add(((TupleValue.Text) insert.row().values().get(0)).value());
                }
                assertEquals(List.of("3"), ids);
            }
            try (Connection c = pg.connect()) {
                ReplicationSlots.drop(c, SLOT, Duration.ofSeconds(10));
                assertFalse(ReplicationSlots.exists(c, SLOT));
            }
        }
    }

    private static void drain(ChangeStream stream) {
        try {
            stream.poll(Duration.ofMillis(50));
        } catch (java.sql.SQLException e) {
            throw new AssertionError(e);
        }
    }

    private static Lsn confirmed(TestPostgres pg) {
        return Lsn.parse(pg.queryValue("postgres", "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'stream_test'"));
    }
}
