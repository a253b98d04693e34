package dev.ferry.replication.pgoutput;

import dev.ferry.replication.Lsn;
import dev.ferry.replication.slot.ReplicationConnection;
import dev.ferry.replication.slot.ReplicationSlots;
import dev.ferry.replication.slot.SlotName;
import dev.ferry.replication.stream.StreamOptions;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.postgresql.PGConnection;
import org.postgresql.replication.LogSequenceNumber;
import org.postgresql.replication.PGReplicationStream;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Records the pgoutput bytes real servers send for scripted workloads into {@code src/test/resources/pgoutput/<major>/},
 * one {@code <case>.bin} of payloads and one {@code <case>.properties} of facts the decoder tests compare against
 * (xids, relation oids, LSN bounds). Not part of the normal build; run once per server version:
 * {@code ./mvnw -q -pl replication test -Dtest=PgOutputCapture -Dferry.capture=13,14,16}
 */
@Timeout(600)
@EnabledIfSystemProperty(named = "ferry.capture", matches = ".+")
class PgOutputCapture {
    private static final Path OUTPUT = Path.of("src/test/resources/pgoutput");
    private static final SlotName SLOT = new SlotName("ferry_capture");
    private static final String PUBLICATION = "ferry_capture";

    /** One scripted workload: runs SQL on a regular connection, records facts, and says how many transactions end. */
    interface Workload {
        int run(Connection c, Properties facts) throws SQLException;
    }

    @Test
    void capture() throws Exception {
        for (String major : System.getProperty("ferry.capture").split(",")) capture(Integer.parseInt(major.trim()));
    }

    private void capture(int major) throws Exception {
        try (TestPostgres pg = TestPostgres.start(major, Map.of())) {
            pg.execute("postgres", PgOutputWorkloads.SCHEMA);
            pg.execute("postgres", "CREATE PUBLICATION " + PUBLICATION + " FOR ALL TABLES");
            Lsn start;
            try (Connection replication = ReplicationConnection.open(pg.jdbcUrl(), new Properties())) {
                start = ReplicationSlots.create(replication, SLOT, false, major).consistentPoint();
            }
            Path dir = OUTPUT.resolve(String.valueOf(major));
            Files.createDirectories(dir);
            for (var each : PgOutputWorkloads.forServer(major).entrySet()) {
                start = captureCase(pg, major, start, dir, each.getKey(), each.getValue());
            }
        }
    }

    private Lsn captureCase(TestPostgres pg, int major, Lsn start, Path dir, String name, Workload workload) throws Exception {
        StreamOptions options = StreamOptions.forServer(major, List.of(PUBLICATION));
        Properties facts = new Properties();
        facts.setProperty("protocolVersion", String.valueOf(options.protocolVersion()));
        facts.setProperty("serverMajor", String.valueOf(major));
        int transactions;
        try (Connection c = pg.connect()) {
            facts.setProperty("lsnBefore", currentLsn(c));
            transactions = workload.run(c, facts);
            facts.setProperty("lsnAfter", currentLsn(c));
        }
        List<CapturedPayloads.Payload> payloads = new ArrayList<>();
        Lsn end;
        try (Connection replication = ReplicationConnection.open(pg.jdbcUrl(), new Properties())) {
            var builder = replication.unwrap(PGConnection.class).getReplicationAPI().replicationStream().logical()
                    .withSlotName(SLOT.value()).withStartPosition(LogSequenceNumber.valueOf(start.value()))
                    .withAutomaticFlush(false).withStatusInterval(1, TimeUnit.SECONDS)
                    .withSlotOption("proto_version", options.protocolVersion())
                    .withSlotOption("publication_names", PUBLICATION);
            if (options.streaming()) builder.withSlotOption("streaming", "on");
            if (options.messages()) builder.withSlotOption("messages", "true");
            PGReplicationStream stream = builder.start();
            end = readTransactions(stream, options, transactions, payloads);
            stream.setFlushedLSN(LogSequenceNumber.valueOf(end.value()));
            stream.forceUpdateStatus();
            stream.close();
        }
        try (OutputStream out = Files.newOutputStream(dir.resolve(name + ".bin"))) {
            new CapturedPayloads(payloads).write(out);
        }
        try (OutputStream out = Files.newOutputStream(dir.resolve(name + ".properties"))) {
            facts.store(out, "facts recorded while capturing " + name + " from PostgreSQL " + major);
        }
        return end;
    }

    /** Reads until {@code transactions} transactions (or non-transactional messages) have ended; returns the last end LSN. */
    private static Lsn readTransactions(PGReplicationStream stream, StreamOptions options, int transactions,
                                        List<CapturedPayloads.Payload> payloads) throws SQLException {
        PgOutputDecoder decoder = new PgOutputDecoder(options.protocolVersion(), false);
        boolean inside = false;
        boolean inTransaction = false;
        Lsn end = Lsn.ZERO;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (transactions > 0) {
            if (System.nanoTime() > deadline) throw new AssertionError("capture timed out, " + transactions + " transactions missing");
            ByteBuffer payload = stream.readPending();
            if (payload == null) {
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
                continue;
            }
            Lsn walStart = new Lsn(stream.getLastReceiveLSN().asLong());
            byte[] bytes = new byte[payload.remaining()];
            payload.get(bytes);
            payloads.add(new CapturedPayloads.Payload(walStart, bytes));
            PgOutputMessage m = decoder.decode(ByteBuffer.wrap(bytes), inside);
            if (m instanceof StreamStart) inside = true;
            else if (m instanceof StreamStop) inside = false;
            else if (m instanceof Begin) inTransaction = true;
            else if (m instanceof Commit commit) { end = commit.endLsn(); inTransaction = false; transactions--; }
            else if (m instanceof StreamCommit commit) { end = commit.endLsn(); transactions--; }
            else if (m instanceof StreamAbort abort && abort.xid() == abort.subXid()) transactions--;
            else if (m instanceof LogicalMessage message && !message.transactional() && !inTransaction && !inside) {
                end = Lsn.max(end, message.lsn());
                transactions--;
            }
        }
        return end;
    }

    private static String currentLsn(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT pg_current_wal_lsn()")) {
            rs.next();
            return rs.getString(1);
        }
    }
}
