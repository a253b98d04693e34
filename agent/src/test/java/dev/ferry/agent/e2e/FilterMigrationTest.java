package dev.ferry.agent.e2e;

import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.config.TableFilter;
import dev.ferry.agent.verify.Verification;
import dev.ferry.agent.verify.VerifyReport;
import dev.ferry.testing.Deadline;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A live migration of part of a database: include and exclude patterns over two schemas, a table migrated without its
 * rows, foreign keys into left-out tables, a view over one, and a pattern that matches nothing, with a writer changing
 * every table, left out or not, while the migration streams.
 */
@Timeout(300)
class FilterMigrationTest extends TwoServers {
    private static final String DB = "filters";

    @Test
    void onlyTheFilteredTablesAndTheirRowsReachTheTargetWhileTheSourceKeepsChanging() throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, DB);
        source.execute(DB,
                "CREATE SCHEMA app", "CREATE SCHEMA \"Billing\"", "CREATE SCHEMA scratch",
                "CREATE TABLE app.orders (id bigint PRIMARY KEY, note text)",
                "CREATE TABLE app.order_lines (id bigint PRIMARY KEY, order_id bigint NOT NULL REFERENCES app.orders, qty int)",
                "CREATE TABLE app.audit_log (id bigint PRIMARY KEY, what text)",
                "CREATE TABLE app.audit_2024 (id bigint PRIMARY KEY)",
                "CREATE TABLE app.comments (id bigint PRIMARY KEY, audit_id bigint REFERENCES app.audit_log, body text)",
                "CREATE TABLE app.events (id bigint PRIMARY KEY, kind text)",
                "CREATE TABLE app.event_tags (id bigint PRIMARY KEY, event_id bigint REFERENCES app.events, tag text)",
                "CREATE TABLE \"Billing\".\"Invoices\" (id serial PRIMARY KEY, order_id bigint REFERENCES app.orders, amount numeric)",
                "CREATE TABLE scratch.tmp (id bigint PRIMARY KEY)",
                "CREATE FUNCTION scratch.helper() RETURNS int LANGUAGE sql AS 'SELECT 1'",
                "CREATE VIEW app.scratch_ids AS SELECT id FROM scratch.tmp",
                "CREATE VIEW app.big_orders AS SELECT o.id FROM app.orders o JOIN app.order_lines l ON l.order_id = o.id WHERE l.qty > 5",
                "CREATE TABLE public.counters (id serial PRIMARY KEY)",
                "INSERT INTO app.orders SELECT g, 'o' || g FROM generate_series(1, 500) g",
                "INSERT INTO app.order_lines SELECT g, g, g % 10 FROM generate_series(1, 500) g",
                "INSERT INTO app.audit_log SELECT g, 'a' || g FROM generate_series(1, 200) g",
                "INSERT INTO app.comments SELECT g, g, 'c' || g FROM generate_series(1, 200) g",
                "INSERT INTO app.events SELECT g, 'e' FROM generate_series(1, 300) g",
                "INSERT INTO app.event_tags SELECT g, g, 't' FROM generate_series(1, 300) g",
                "INSERT INTO \"Billing\".\"Invoices\" (order_id, amount) SELECT g, g * 1.5 FROM generate_series(1, 100) g",
                "INSERT INTO scratch.tmp SELECT generate_series(1, 50)",
                "INSERT INTO public.counters SELECT FROM generate_series(1, 20)");
        TableFilter filter = TableFilter.parse(List.of("app", "\"Billing\""), List.of(), List.of(),
                List.of("app.audit_*", "app.no_such_table"), List.of("app.events"));
        MigrationConfig base = migration.config(MigrationConfig.SchemaMode.COPY, 2);
        MigrationConfig config = new MigrationConfig(base.source(), base.target(), base.jobs(), base.logDir(), base.workDir(), base.schemaMode(),
                base.numericNanInf(), base.slotName(), base.acceptRisks(), filter, base.metricsPort(), base.statusInterval(), base.pgDumpDir());

        try (Writer writer = new Writer(migration)) {
            writer.start();
            writer.await(20);
            MigrationFixture.InProcessAgent agent = migration.startInProcess(config);
            agent.awaitStreaming(Duration.ofMinutes(3));
            assertEquals(List.of(List.of("Billing", "Invoices"), List.of("app", "comments"), List.of("app", "event_tags"), List.of("app", "order_lines"),
                            List.of("app", "orders")),
                    source.query(DB, "SELECT schemaname, tablename FROM pg_publication_tables ORDER BY 1, 2"), "only tables whose rows migrate are published");
            writer.await(writer.transactions() + 100);
            writer.close();

            String summary = migration.cutover(Duration.ofMinutes(2));
            assertTrue(summary.contains("migration finished"), summary);
            assertEquals(summary, agent.awaitSummary(Duration.ofSeconds(60)));
        }

        for (String table : List.of("app.orders", "app.order_lines", "app.comments", "app.event_tags", "\"Billing\".\"Invoices\"")) {
            String rows = "SELECT * FROM " + table + " ORDER BY id";
            assertEquals(source.query(DB, rows), target.query(DB, rows), table);
        }
        assertEquals("0", target.queryValue(DB, "SELECT count(*) FROM app.events"), "--skip-table-data: the table is there, empty");
        for (String leftOut : List.of("app.audit_log", "app.audit_2024", "scratch.tmp", "public.counters", "app.scratch_ids")) {
            assertNull(target.queryValue(DB, "SELECT to_regclass('" + leftOut + "')::text"), leftOut + " is left out");
        }
        assertNull(target.queryValue(DB, "SELECT nspname FROM pg_namespace WHERE nspname = 'scratch'"), "a schema not included is left out with its function");
        assertEquals("app.big_orders", target.queryValue(DB, "SELECT to_regclass('app.big_orders')::text"));
        assertEquals(List.of(List.of("Invoices_order_id_fkey"), List.of("order_lines_order_id_fkey")),
                target.query(DB, "SELECT conname FROM pg_constraint WHERE contype = 'f' ORDER BY conname"),
                "keys into the excluded and the skip-data table are left out, the others built");
        assertEquals(source.queryValue(DB, "SELECT last_value FROM \"Billing\".\"Invoices_id_seq\""),
                target.queryValue(DB, "SELECT last_value FROM \"Billing\".\"Invoices_id_seq\""), "sequence set at the cutover");

        String log = migration.log("ferry.log");
        assertTrue(log.contains("--exclude-table 'app.no_such_table'") && log.contains("match nothing"), "the pattern matching nothing is named");
        assertTrue(log.contains("foreign key \"comments_audit_id_fkey\" on \"app\".\"comments\" is left out: it references \"app\".\"audit_log\""), log);
        assertTrue(log.contains("ALTER TABLE app.event_tags ADD CONSTRAINT event_tags_event_id_fkey FOREIGN KEY (event_id) REFERENCES app.events(id)"),
                "the WARN gives the statement to add the key later");
        assertTrue(log.contains("view \"app\".\"scratch_ids\" is not copied"), "the view over a left-out table is named");

        StringWriter out = new StringWriter();
        VerifyReport report = new Verification(migration.source, migration.target,
                new Verification.Options(2, filter, 3, Duration.ofSeconds(30), 64 * 1024)).run(new PrintWriter(out, true));
        assertTrue(report.identical(), out.toString());
        assertEquals(5, report.tables().size(), out.toString());
    }

    /** Changes every source table, migrated or not, one transaction at a time, until closed. */
    private static final class Writer implements AutoCloseable {
        private final MigrationFixture migration;
        private final AtomicLong transactions = new AtomicLong();
        private final AtomicReference<Throwable> failure = new AtomicReference<>();
        private volatile boolean stop;
        private Thread thread;

        Writer(MigrationFixture migration) {
            this.migration = migration;
        }

        void start() {
            thread = new Thread(() -> {
                try (Connection c = migration.source.open(); Statement s = c.createStatement()) {
                    for (long i = 1_000; !stop; i++) {
                        s.execute("BEGIN");
                        s.execute("INSERT INTO app.orders VALUES (" + i + ", 'live')");
                        s.execute("INSERT INTO app.order_lines VALUES (" + i + ", " + i + ", 7)");
                        s.execute("UPDATE app.orders SET note = 'changed' WHERE id = " + (i % 500 + 1));
                        s.execute("DELETE FROM app.comments WHERE id = " + (i % 200 + 1));
                        s.execute("INSERT INTO app.audit_log VALUES (" + i + ", 'live')");
                        s.execute("INSERT INTO app.events VALUES (" + i + ", 'live')");
                        s.execute("INSERT INTO \"Billing\".\"Invoices\" (order_id, amount) VALUES (" + i + ", 1)");
                        s.execute("INSERT INTO scratch.tmp VALUES (" + i + ")");
                        s.execute("INSERT INTO public.counters DEFAULT VALUES");
                        s.execute("COMMIT");
                        transactions.incrementAndGet();
                    }
                } catch (Throwable e) {
                    failure.set(e);
                }
            }, "test-writer-" + DB);
            thread.start();
        }

        long transactions() {
            return transactions.get();
        }

        void await(long count) {
            Deadline.await(count + " writer transactions", Duration.ofMinutes(2), () -> {
                if (failure.get() != null) throw new AssertionError("the writer failed", failure.get());
                return transactions.get() >= count;
            });
        }

        @Override
        public void close() throws InterruptedException {
            stop = true;
            thread.join(30_000);
            if (failure.get() != null) throw new AssertionError("the writer failed", failure.get());
        }
    }
}
