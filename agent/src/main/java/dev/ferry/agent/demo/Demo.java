package dev.ferry.agent.demo;

import dev.ferry.agent.FerryException;
import dev.ferry.agent.run.Migration;
import dev.ferry.agent.config.ConnectionSpec;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.cutover.CutoverRequest;
import dev.ferry.agent.db.Database;
import dev.ferry.agent.schema.SchemaCopy;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.agent.state.StateStore;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;

/**
 * `ferry demo`: a full live migration between two embedded servers while a writer keeps changing the source, ending
 * with a cutover and a row-by-row comparison. Shows a new user every stage and where its logs are.
 */
public final class Demo {
    private static final String DATABASE = "app";

    private final Path logDir;
    private final int rows;
    private final PrintWriter out;

    public Demo(Path logDir, int rows, PrintWriter out) {
        this.logDir = logDir;
        this.rows = rows;
        this.out = out;
    }

    /** Returns true when the target ended identical to the source. */
    public boolean run() throws Exception {
        Path scratch = Files.createTempDirectory("ferry-demo-");
        say("starting two embedded PostgreSQL 15 servers in " + scratch + " ...");
        try (DemoServers servers = new DemoServers(scratch)) {
            ConnectionSpec source = ConnectionSpec.parse("source", DemoServers.uri(servers.source, DATABASE));
            ConnectionSpec target = ConnectionSpec.parse("target", DemoServers.uri(servers.target, DATABASE));
            createDatabase(servers.source.getPostgresDatabase().getConnection());
            createDatabase(servers.target.getPostgresDatabase().getConnection());
            Database sourceDb = new Database(source, "source");
            Database targetDb = new Database(target, "target");
            try (Connection c = sourceDb.open()) {
                SampleDatabase.create(c, rows);
            }
            say("source " + source.masked() + " filled with the sample schema (" + rows + " rows per main table)");

            MigrationConfig.SchemaMode schemaMode = chooseSchemaMode(source, target, targetDb);
            MigrationConfig config = new MigrationConfig(source, target, Math.max(2, Runtime.getRuntime().availableProcessors()),
                    logDir, scratch.resolve("work"), schemaMode, MigrationConfig.NumericNanInf.KEEP,
                    MigrationConfig.defaultSlotName(DATABASE), Set.of(), Set.of(), 0, Duration.ofSeconds(10));

            try (Workload workload = new Workload(() -> open(sourceDb), 42)) {
                workload.start();
                say("a writer is now changing the source: inserts, updates, key changes, deletes, truncates, partition moves");
                AtomicReference<Object> outcome = new AtomicReference<>();
                Thread agent = new Thread(() -> {
                    try {
                        outcome.set(new Migration(config).run());
                    } catch (Throwable e) {
                        outcome.set(e);
                    }
                }, "ferry-demo-agent");
                agent.start();
                awaitStreaming(targetDb, agent, outcome);
                long seen = workload.transactions();
                workload.awaitTransactions(seen + 500, Duration.ofMinutes(2));
                say("streaming: " + workload.transactions() + " source transactions so far; stopping the writer for the cutover");
                workload.close();
                say("ferry cutover ...");
                new CutoverRequest(sourceDb, targetDb).run(Duration.ofMinutes(5), out); // the agent logs the summary
                agent.join(Duration.ofMinutes(2).toMillis());
                if (outcome.get() instanceof Throwable failure) throw new IllegalStateException("the agent failed", failure);
            }

            try (Connection s = sourceDb.open(); Connection t = targetDb.open()) {
                ComparisonResult result = DatabaseComparison.compare(s, t);
                say("compared " + result.tablesCompared() + " tables, " + result.rowsCompared() + " rows, and every sequence, row by row");
                for (String difference : result.differences()) out.println("  " + difference);
                boolean identical = result.identical();
                say(identical ? "the target is identical to the source." : "the target DIFFERS from the source (see above).");
                say("logs: " + logDir + " (ferry.log, preflight.log, schema.log, snapshot.log, stream.log, cutover.log)");
                return identical;
            }
        }
    }

    private MigrationConfig.SchemaMode chooseSchemaMode(ConnectionSpec source, ConnectionSpec target, Database targetDb) throws SQLException {
        MigrationConfig probe = new MigrationConfig(source, target, 1, logDir, logDir, MigrationConfig.SchemaMode.COPY,
                MigrationConfig.NumericNanInf.KEEP, "ferry_probe", Set.of(), Set.of(), 0, Duration.ofSeconds(10));
        try {
            new SchemaCopy(probe).checkTools(15);
            return MigrationConfig.SchemaMode.COPY;
        } catch (FerryException noPgDump) {
            say("pg_dump 15+ is not installed (" + noPgDump.what() + "); the demo prepares the target's schema itself and runs with --schema existing");
            try (Connection c = targetDb.open(); Statement s = c.createStatement()) {
                s.execute(SampleDatabase.schemaSql());
            }
            return MigrationConfig.SchemaMode.EXISTING;
        }
    }

    private void awaitStreaming(Database targetDb, Thread agent, AtomicReference<Object> outcome) throws Exception {
        StateStore state = new StateStore();
        long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
        while (true) {
            if (outcome.get() instanceof Throwable failure) throw new IllegalStateException("the agent failed", failure);
            try (Connection c = targetDb.open()) {
                Optional<MigrationState> current = state.load(c);
                if (current.isPresent() && current.get().phase() == MigrationState.Phase.STREAM && current.get().heartbeatAt().isPresent()) return;
            }
            if (System.nanoTime() > deadline || !agent.isAlive()) throw new IllegalStateException("the agent did not reach the stream phase");
            Thread.sleep(200);
        }
    }

    private static void createDatabase(Connection admin) throws SQLException {
        try (admin; Statement s = admin.createStatement()) {
            s.execute("CREATE DATABASE " + DATABASE);
        }
    }

    private static Connection open(Database database) {
        return database.open();
    }

    private void say(String line) {
        out.println("ferry demo: " + line);
        out.flush();
    }
}
