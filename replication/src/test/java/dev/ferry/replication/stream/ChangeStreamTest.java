package dev.ferry.replication.stream;

import dev.ferry.replication.Lsn;
import dev.ferry.replication.pgoutput.Begin;
import dev.ferry.replication.pgoutput.Commit;
import dev.ferry.replication.pgoutput.Insert;
import dev.ferry.replication.pgoutput.PgOutputMessage;
import dev.ferry.replication.pgoutput.Relation;
import dev.ferry.replication.pgoutput.StreamCommit;
import dev.ferry.replication.pgoutput.StreamStart;
import dev.ferry.replication.pgoutput.StreamStop;
import dev.ferry.replication.pgoutput.Streamed;
import dev.ferry.replication.pgoutput.TupleValue;
import dev.ferry.replication.slot.CreatedSlot;
import dev.ferry.replication.slot.ReplicationConnection;
import dev.ferry.replication.slot.ReplicationSlots;
import dev.ferry.replication.slot.SlotName;
import dev.ferry.replication.slot.SlotState;
import dev.ferry.testing.Deadline;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Slot, exported snapshot and ChangeStream against real servers of every supported major version. */
@Timeout(300)
class ChangeStreamTest {
    private static final SlotName SLOT = new SlotName("ferry_test");
    /** A name that needs quoting as an identifier and, inside the option string, as a literal. */
    private static final String PUBLICATION = "Pub \"one\", it's";
    private static final Duration STATUS_INTERVAL = Duration.ofMillis(200);
    private static final Duration WAIT = Duration.ofSeconds(30);

    @ParameterizedTest
    @ValueSource(ints = {13, 14, 15, 16, 17, 18})
    void streamsChangesAfterTheSnapshotAndResumesAfterWhatWasConfirmed(int major) throws Exception {
        assumeTrue(TestPostgres.available(major), "no binaries for PostgreSQL " + major);
        try (TestPostgres pg = TestPostgres.start(major, Map.of()); Connection regular = pg.connect()) {
            pg.execute("postgres", "CREATE TABLE public.t (id int PRIMARY KEY, v text)",
                    "INSERT INTO public.t VALUES (1, 'before slot')",
                    "CREATE PUBLICATION \"Pub \"\"one\"\", it's\" FOR TABLE public.t");
            StreamOptions options = StreamOptions.forServer(major, List.of(PUBLICATION));
            Commit first;
            Lsn lastSeen;
            try (Connection replication = ReplicationConnection.open(pg.jdbcUrl(), new Properties())) {
                CreatedSlot slot = ReplicationSlots.create(replication, SLOT, false, major);
                pg.execute("postgres", "INSERT INTO public.t VALUES (2, 'after slot')");
                // The replication connection is open and idle, so its exported snapshot is still importable.
                assertEquals(List.of("1"), idsInSnapshot(regular, slot.snapshotName()));
                assertEquals(Optional.of(slot.consistentPoint()), describe(regular).confirmedFlushLsn());

                try (ChangeStream stream = ChangeStream.start(replication, SLOT, slot.consistentPoint(), options, STATUS_INTERVAL)) {
                    List<WalMessage> tx = pollTransaction(stream);
                    assertEquals(List.of("2"), insertedIds(tx));
                    first = (Commit) tx.get(tx.size() - 1).message();
                    assertEquals(first.endLsn(), tx.get(tx.size() - 1).walStart());
                    Begin begin = (Begin) tx.get(0).message();
                    assertEquals(first.commitLsn(), begin.finalLsn());
                    assertTrue(first.commitLsn().isAfter(slot.consistentPoint()));
                    assertTrue(tx.stream().anyMatch(m -> m.message() instanceof Relation r && r.name().equals("t")));

                    stream.confirm(first.endLsn());
                    stream.sendStatusNow();
                    Deadline.await("slot confirmed at " + first.endLsn(), WAIT, () -> confirmedFlush(regular),
                            lsn -> lsn.equals(first.endLsn()));

                    // WAL the publication does not cover reaches us only as keepalive positions.
                    pg.execute("postgres", "CREATE TABLE public.unpublished (id int)", "INSERT INTO public.unpublished VALUES (1)");
                    // The insert position: with synchronous_commit=off, pg_current_wal_lsn() (written) may still lag it.
                    Lsn target = Lsn.parse(pg.queryValue("postgres", "SELECT pg_current_wal_insert_lsn()"));
                    Deadline.await("last received LSN reaching " + target, WAIT, () -> pollOnce(stream).lastReceivedLsn(),
                            lsn -> !lsn.isBefore(target));
                    lastSeen = stream.lastReceivedLsn();
                    assertTrue(lastSeen.isAfter(first.endLsn()));
                    assertTrue(!lastSeen.isBefore(Lsn.parse(pg.queryValue("postgres", "SELECT pg_current_wal_lsn()"))));
                    stream.sendStatusNow();
                    pg.execute("postgres", "INSERT INTO public.t VALUES (3, 'not confirmed')");
                    List<WalMessage> second = pollTransaction(stream);
                    assertEquals(List.of("3"), insertedIds(second));
                    stream.sendStatusNow();
                    // Keepalives and status updates went by; the slot still says only what we confirmed.
                    pollFor(stream, Duration.ofMillis(3 * STATUS_INTERVAL.toMillis()));
                    stream.sendStatusNow();
                    assertEquals(first.endLsn(), confirmedFlush(regular));
                }
            }

            try (Connection replication = ReplicationConnection.open(pg.jdbcUrl(), new Properties());
                 ChangeStream restarted = ChangeStream.start(replication, SLOT, first.endLsn(), options, STATUS_INTERVAL)) {
                // The confirmed transaction (row 2) is not sent again; the unconfirmed one (row 3) is.
                assertEquals(List.of("3"), insertedIds(pollTransaction(restarted)));
            }
            ReplicationSlots.drop(regular, SLOT, WAIT);
            assertEquals(false, ReplicationSlots.exists(regular, SLOT));
        }
    }

    @Test
    void bigTransactionArrivesInStreamBlocksTrackedByTheStream() throws Exception {
        try (TestPostgres pg = TestPostgres.start(); Connection regular = pg.connect();
             Connection replication = ReplicationConnection.open(pg.jdbcUrl(), new Properties())) {
            pg.execute("postgres", "CREATE TABLE public.t (id int PRIMARY KEY, v text)", "CREATE PUBLICATION p FOR TABLE public.t");
            CreatedSlot slot = ReplicationSlots.create(replication, SLOT, true, TestPostgres.DEFAULT_MAJOR);
            pg.execute("postgres", "INSERT INTO public.t SELECT g, repeat('v', 200) FROM generate_series(1, 2000) g");
            StreamOptions options = StreamOptions.forServer(TestPostgres.DEFAULT_MAJOR, List.of("p"));
            try (ChangeStream stream = ChangeStream.start(replication, SLOT, slot.consistentPoint(), options, STATUS_INTERVAL)) {
                List<WalMessage> all = pollUntil(stream, m -> m instanceof StreamCommit);
                StreamStart start = (StreamStart) all.get(0).message();
                int rows = 0;
                boolean inside = false;
                for (WalMessage each : all) {
                    PgOutputMessage m = each.message();
                    if (m instanceof StreamStart) inside = true;
                    else if (m instanceof StreamStop) inside = false;
                    else if (inside) {
                        assertTrue(m instanceof Streamed s && s.xid() == start.xid(), "inside a block: " + m);
                        if (((Streamed) m).message() instanceof Insert) rows++;
                    }
                }
                assertEquals(2000, rows);
                assertEquals(start.xid(), ((StreamCommit) all.get(all.size() - 1).message()).xid());
            }
        }
    }

    private static ChangeStream pollOnce(ChangeStream stream) {
        try {
            stream.poll(Duration.ofMillis(50));
            return stream;
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void pollFor(ChangeStream stream, Duration time) throws SQLException {
        long end = System.nanoTime() + time.toNanos();
        while (System.nanoTime() < end) {
            Optional<WalMessage> m = stream.poll(Duration.ofMillis(50));
            // PostgreSQL 13 and 14 send empty transactions (e.g. autovacuum's); nothing with rows is pending.
            assertTrue(m.isEmpty() || !(m.get().message() instanceof Insert), "nothing else to stream, got " + m);
        }
    }

    /** The next transaction with changes; PostgreSQL 13 and 14 also send empty ones for unpublished changes, skipped here. */
    static List<WalMessage> pollTransaction(ChangeStream stream) throws SQLException {
        while (true) {
            List<WalMessage> tx = pollUntil(stream, m -> m instanceof Commit);
            if (tx.size() > 2) return tx;
        }
    }

    static List<WalMessage> pollUntil(ChangeStream stream, Predicate<PgOutputMessage> last) throws SQLException {
        List<WalMessage> messages = new ArrayList<>();
        long end = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < end) {
            Optional<WalMessage> next = stream.poll(Duration.ofMillis(100));
            if (next.isEmpty()) continue;
            messages.add(next.get());
            if (last.test(next.get().message())) return messages;
        }
        throw new AssertionError("no end of transaction within " + WAIT + "; received " + messages);
    }

    private static List<String> insertedIds(List<WalMessage> messages) {
        List<String> ids = new ArrayList<>();
        for (WalMessage m : messages) {
            if (m.message() instanceof Insert insert) ids.add(((TupleValue.Text) insert.row().values().get(0)).value());
        }
        return ids;
    }

    private static List<String> idsInSnapshot(Connection regular, String snapshot) throws SQLException {
        List<String> ids = new ArrayList<>();
        try (Statement s = regular.createStatement()) {
            s.execute("BEGIN ISOLATION LEVEL REPEATABLE READ");
            s.execute("SET TRANSACTION SNAPSHOT '" + snapshot + "'");
            try (ResultSet rs = s.executeQuery("SELECT id FROM public.t ORDER BY id")) {
                while (rs.next()) ids.add(rs.getString(1));
            }
            s.execute("COMMIT");
        }
        return ids;
    }

    private static SlotState describe(Connection regular) throws SQLException {
        return ReplicationSlots.describe(regular, SLOT).orElseThrow(() -> new AssertionError("slot " + SLOT + " missing"));
    }

    private static Lsn confirmedFlush(Connection regular) {
        try {
            return describe(regular).confirmedFlushLsn().orElseThrow();
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }
}
