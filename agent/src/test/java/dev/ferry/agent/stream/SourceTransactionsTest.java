package dev.ferry.agent.stream;

import dev.ferry.agent.apply.Applier;
import dev.ferry.agent.config.MigrationConfig.NumericNanInf;
import dev.ferry.agent.name.QualifiedName;
import dev.ferry.agent.metrics.MigrationMetrics;
import dev.ferry.agent.state.StateStore;
import dev.ferry.replication.Lsn;
import dev.ferry.replication.pgoutput.Commit;
import dev.ferry.replication.pgoutput.PgOutputMessage;
import dev.ferry.replication.pgoutput.StreamAbort;
import dev.ferry.replication.pgoutput.StreamCommit;
import dev.ferry.replication.slot.CreatedSlot;
import dev.ferry.replication.slot.ReplicationConnection;
import dev.ferry.replication.slot.ReplicationSlots;
import dev.ferry.replication.slot.SlotName;
import dev.ferry.replication.stream.ChangeStream;
import dev.ferry.replication.stream.StreamOptions;
import dev.ferry.replication.stream.WalMessage;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Savepoint;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The stream's grouping of a real source's pgoutput into source transactions, applied to a real target: a
 * transaction's changes end in one source transaction with its end LSN, one applied before a restart is skipped, a
 * big transaction PostgreSQL streams while in progress is spilled and replayed at its commit without its rolled-back
 * subtransaction (and a rolled-back big transaction not at all), and a table copied again after a restart gets only
 * the changes its copy does not hold (sync LSN). The source runs with logical_decoding_work_mem = 64kB, so a few
 * thousand rows are a big transaction.
 */
@Timeout(120)
class SourceTransactionsTest {
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final String PUBLICATION = "ferry_test_pub";
    private static final String TABLES = "CREATE TABLE public.a (id int PRIMARY KEY, v text); CREATE TABLE public.b (id int PRIMARY KEY, v text)";
    private static TestPostgres source;
    private static TestPostgres target;
    private static int databases;

    @TempDir
    Path workDir;

    @BeforeAll
    static void startServers() {
        source = TestPostgres.start();
        target = TestPostgres.start();
    }

    @AfterAll
    static void stopServers() {
        if (source != null) source.close();
        if (target != null) target.close();
    }

    @Test
    void groupsATransactionsChangesAndSkipsOneAppliedBeforeARestart() throws Exception {
        String db = databases();
        try (Connection replication = slot(db); Connection src = source.connect(db)) {
            source.execute(db, "INSERT INTO public.a VALUES (10, 'applied before the restart')");
            Lsn appliedBefore = currentLsn(src);
            src.setAutoCommit(false);
            try (Statement s = src.createStatement()) {
                s.execute("INSERT INTO public.a VALUES (1, 'one'), (2, 'two'), (3, 'three')");
                s.execute("UPDATE public.a SET v = 'two, updated' WHERE id = 2");
                s.execute("DELETE FROM public.a WHERE id = 3");
            }
            src.commit();

            try (Connection dst = target.connect(db); Applier applier = applier(dst, appliedBefore)) {
                List<PgOutputMessage> seen = feed(replication, db, applier, Map.of(), 2);
                Commit last = (Commit) seen.stream().filter(m -> m instanceof Commit).reduce((first, second) -> second).orElseThrow();
                assertEquals(1, applier.transactionsApplied(), "the first was applied before the restart");
                assertEquals(5, applier.changesApplied());
                assertEquals(last.endLsn(), applier.applied());
            }
            assertEquals(List.of(List.of("1", "one"), List.of("2", "two, updated")), rows(db, "a"));
        }
    }

    @Test
    void replaysABigStreamedTransactionWithoutItsRolledBackSubtransaction() throws Exception {
        String db = databases();
        try (Connection replication = slot(db); Connection src = source.connect(db)) {
            src.setAutoCommit(false);
            try (Statement s = src.createStatement()) {
                s.execute("INSERT INTO public.a SELECT i, repeat('x', 100) FROM generate_series(1, 3000) i");
                Savepoint savepoint = src.setSavepoint();
                s.execute("INSERT INTO public.a SELECT i, 'rolled back' FROM generate_series(100001, 103000) i");
                src.rollback(savepoint);
                s.execute("INSERT INTO public.a SELECT i, 'after the rollback' FROM generate_series(3001, 3010) i");
                src.commit();
                s.execute("INSERT INTO public.b SELECT i, repeat('y', 100) FROM generate_series(1, 3000) i");
                src.rollback();
                s.execute("INSERT INTO public.b VALUES (0, 'last')");
                src.commit();
            }

            List<PgOutputMessage> seen;
            try (Connection dst = target.connect(db); Applier applier = applier(dst, Lsn.ZERO)) {
                seen = feed(replication, db, applier, Map.of(), 2);
                assertEquals(3011, applier.changesApplied());
            }
            assertTrue(seen.stream().anyMatch(m -> m instanceof StreamCommit), "the big transaction was streamed: " + kinds(seen));
            assertTrue(seen.stream().anyMatch(m -> m instanceof StreamAbort abort && abort.subXid() != abort.xid()), "a subtransaction was rolled back");
            assertTrue(seen.stream().anyMatch(m -> m instanceof StreamAbort abort && abort.subXid() == abort.xid()), "a big transaction was rolled back");
            assertEquals("3010 0", target.queryValue(db, "SELECT count(*) || ' ' || count(*) FILTER (WHERE id > 100000) FROM public.a"));
            assertEquals(List.of(List.of("0", "last")), rows(db, "b"));
            try (Stream<Path> left = Files.list(workDir.resolve("spill"))) {
                assertEquals(List.of(), left.toList(), "spill files are deleted once replayed or rolled back");
            }
        }
    }

    @Test
    void skipsChangesToATableCopiedAgainInTransactionsItsCopyHolds() throws Exception {
        String db = databases();
        try (Connection replication = slot(db); Connection src = source.connect(db)) {
            source.execute(db, "INSERT INTO public.a VALUES (1, 'in the copy'); INSERT INTO public.b VALUES (1, 'streamed')");
            Lsn syncLsn = currentLsn(src); // what the second copy of table a was consistent with
            source.execute(db, "INSERT INTO public.a VALUES (2, 'after the copy'); INSERT INTO public.b VALUES (2, 'streamed')");

            try (Connection dst = target.connect(db); Applier applier = applier(dst, Lsn.ZERO)) {
                feed(replication, db, applier, Map.of(new QualifiedName("public", "a"), syncLsn), 2);
            }
            assertEquals(List.of(List.of("2", "after the copy")), rows(db, "a"));
            assertEquals(List.of(List.of("1", "streamed"), List.of("2", "streamed")), rows(db, "b"));
        }
    }

    /**
     * Reads the slot and hands each message to {@link SourceTransactions}, committing between source transactions as
     * the stream stage does, until {@code commits} transactions have committed on the source. Returns the messages.
     */
    private List<PgOutputMessage> feed(Connection replication, String db, Applier applier, Map<QualifiedName, Lsn> syncLsns, int commits) throws Exception {
        StreamOptions options = StreamOptions.forServer(source.major(), List.of(PUBLICATION));
        List<PgOutputMessage> seen = new ArrayList<>();
        try (SpilledTransactions spilled = new SpilledTransactions(workDir.resolve("spill"));
             ChangeStream stream = ChangeStream.start(replication, slotName(db), Lsn.ZERO, options, Duration.ofSeconds(1))) {
            SourceTransactions transactions = new SourceTransactions(applier, spilled, TimescaleChanges.none(), syncLsns, options.protocolVersion(),
                    new MigrationMetrics());
            long deadline = System.nanoTime() + WAIT.toNanos();
            int committed = 0;
            while (committed < commits) {
                if (System.nanoTime() > deadline) fail("timed out after " + WAIT + " waiting for " + commits + " commits; seen " + kinds(seen));
                Optional<WalMessage> wal = stream.poll(Duration.ofMillis(100));
                if (wal.isEmpty()) continue;
                PgOutputMessage message = wal.get().message();
                seen.add(message);
                transactions.handle(wal.get());
                if (!transactions.inTransaction()) applier.commitPending();
                if (message instanceof Commit || message instanceof StreamCommit) committed++;
            }
        }
        return seen;
    }

    /** A database of the same name on both servers with tables a and b, published on the source; ferry's state on the target. */
    private static String databases() throws Exception {
        String db = "grouping_" + ++databases;
        source.createDatabase(db);
        target.createDatabase(db);
        source.execute(db, TABLES, "CREATE PUBLICATION " + PUBLICATION + " FOR TABLE public.a, public.b");
        target.execute(db, TABLES);
        try (Connection c = target.connect(db)) {
            new StateStore().install(c);
            new StateStore().begin(c, slotName(db).toString(), "postgres://source", Lsn.ZERO);
        }
        return db;
    }

    /** A replication connection holding a temporary slot, created before the test's changes. */
    private static Connection slot(String db) throws Exception {
        Connection replication = ReplicationConnection.open(source.jdbcUrl(db), new Properties());
        CreatedSlot created = ReplicationSlots.create(replication, slotName(db), true, source.major());
        assertTrue(created.consistentPoint().isAfter(Lsn.ZERO));
        return replication;
    }

    private static SlotName slotName(String db) {
        return new SlotName("ferry_" + db);
    }

    private static Applier applier(Connection dst, Lsn applied) throws Exception {
        dst.setAutoCommit(false);
        return new Applier(dst, new StateStore(), NumericNanInf.KEEP, false, applied, new MigrationMetrics(), lsn -> {});
    }

    /** The insert position: with synchronous_commit off the write position may still be short of the last commit. */
    private static Lsn currentLsn(Connection src) throws Exception {
        try (Statement s = src.createStatement(); var rs = s.executeQuery("SELECT pg_current_wal_insert_lsn()::text")) {
            rs.next();
            return Lsn.parse(rs.getString(1));
        }
    }

    private static List<List<String>> rows(String db, String table) {
        return target.query(db, "SELECT id::text, v FROM public." + table + " ORDER BY id");
    }

    private static List<String> kinds(List<PgOutputMessage> messages) {
        return messages.stream().map(m -> m.getClass().getSimpleName()).distinct().toList();
    }
}
