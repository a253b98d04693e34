package dev.ferry.agent.demo;

import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(180)
class WorkloadTest {
    private static TestPostgres pg;

    @BeforeAll
    static void startServer() {
        pg = TestPostgres.start();
    }

    @AfterAll
    static void stopServer() {
        if (pg != null) pg.close();
    }

    /** The publications a migration creates: every change of identifiable tables, only inserts of the others. */
    private static void publishLikeFerry(String db) {
        pg.execute(db,
                "CREATE PUBLICATION all_changes FOR TABLE app.customers, app.products, app.orders, app.order_lines, app.all_types, "
                        + "app.documents, app.events, app.page_views, app.settings, \"Ünïcode Schema\".\"Order \"\"Items\"\"\"",
                "CREATE PUBLICATION inserts_only FOR TABLE app.audit_log WITH (publish = 'insert, truncate')");
    }

    private static Supplier<Connection> connections(String db) {
        return () -> {
            try {
                return pg.connect(db);
            } catch (SQLException e) {
                throw new IllegalStateException(e);
            }
        };
    }

    @Test
    void runsEveryKindOfChangeWithoutError() throws Exception {
        String db = pg.createDatabase("workload_kinds");
        try (Connection c = pg.connect(db)) {
            SampleDatabase.create(c, 500);
        }
        publishLikeFerry(db);
        long auditRows = Long.parseLong(pg.queryValue(db, "SELECT count(*) FROM app.audit_log"));
        Map<Operation, Long> ran;
        long committed;
        try (Workload workload = new Workload(connections(db), 42)) {
            workload.start();
            workload.awaitTransactions(600, Duration.ofSeconds(120));
            workload.close();
            ran = workload.operations();
            committed = workload.transactions();
            assertTrue(workload.rolledBack() >= 1);
        }
        assertTrue(committed >= 600);
        ran.forEach((operation, count) -> assertTrue(count > 0, operation + " never ran"));
        // the changes really happened
        assertTrue(Long.parseLong(pg.queryValue(db, "SELECT count(*) FROM app.events WHERE kind LIKE '%.moved'")) > 0, "partition moves");
        assertEquals("0", pg.queryValue(db, "SELECT count(*) FROM app.events_2023 WHERE occurred_on >= '2024-01-01'"));
        assertTrue(Long.parseLong(pg.queryValue(db, "SELECT count(*) FROM app.order_lines WHERE product_sku LIKE 'SKU-R%'")) > 0,
                "primary key changes cascaded to order lines");
        assertTrue(Long.parseLong(pg.queryValue(db, "SELECT max(version) FROM app.documents")) > 1, "TOAST-keeping updates");
        assertTrue(Long.parseLong(pg.queryValue(db, "SELECT count(*) FROM app.audit_log")) > auditRows, "no-identity inserts");
        assertEquals("10", pg.queryValue(db, "SELECT count(*) FROM app.settings"), "settings were refilled after each truncate");
        assertEquals("0", pg.queryValue(db, "SELECT count(*) FROM app.settings WHERE value = 'rolled back'"));
        assertTrue(Long.parseLong(pg.queryValue(db, "SELECT count(*) FROM app.page_views WHERE hits > 1")) > 0, "updates of one duplicate");
    }

    @Test
    void noIdentityUpdatesWouldFailIfTheTableWerePublishedForUpdates() throws Exception {
        // Guards the workload's claim: its no-op update and no-match delete on app.audit_log do exercise the
        // replica identity check, which PostgreSQL runs before looking at any row.
        String db = pg.createDatabase("workload_no_identity");
        try (Connection c = pg.connect(db)) {
            SampleDatabase.create(c, 50);
        }
        pg.execute(db, "CREATE PUBLICATION everything FOR TABLE app.audit_log");
        try (Connection c = pg.connect(db); Statement s = c.createStatement()) {
            SQLException update = assertThrows(SQLException.class, () -> s.execute("UPDATE app.audit_log SET note = note WHERE row_id = 1"));
            assertEquals("55000", update.getSQLState());
            SQLException delete = assertThrows(SQLException.class, () -> s.execute("DELETE FROM app.audit_log WHERE op = 'NEVER LOGGED'"));
            assertEquals("55000", delete.getSQLState());
        }
    }

    @Test
    void closeRethrowsWhatTheWriterHit() throws Exception {
        String db = pg.createDatabase("workload_failure");
        try (Connection c = pg.connect(db)) {
            SampleDatabase.create(c, 50);
        }
        pg.execute(db, "CREATE PUBLICATION everything FOR TABLE app.audit_log");
        Workload workload = new Workload(connections(db), 1);
        workload.start();
        IllegalStateException waited = assertThrows(IllegalStateException.class, () -> workload.awaitTransactions(10_000, Duration.ofSeconds(60)));
        assertTrue(waited.getMessage().contains("replica identity"), waited.getMessage());
        assertThrows(IllegalStateException.class, workload::close);
    }
}
