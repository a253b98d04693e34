package dev.ferry.agent.demo;

import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The target is a pg_dump | psql copy of a source the workload has written to: an independent way of copying, so
 * "identical" means the comparison reads every type the same way on both servers, not that it compares a thing
 * with itself.
 */
@Timeout(240)
class ComparisonTest {
    private static final String DB = "shop";
    private static TestPostgres source;
    private static TestPostgres target;

    @BeforeAll
    static void copySampleWithPgDump() throws Exception {
        source = TestPostgres.start();
        target = TestPostgres.start();
        source.createDatabase(DB);
        target.createDatabase(DB);
        try (Connection c = source.connect(DB)) {
            SampleDatabase.create(c, 500);
        }
        try (Workload workload = new Workload(() -> connect(source), 7)) {
            workload.start();
            workload.awaitTransactions(200, Duration.ofSeconds(60));
        }
        Path dump = Files.createTempFile("ferry-comparison", ".sql");
        try {
            run("pg_dump", "--no-owner", "-f", dump.toString(), "-d", source.uri(DB));
            run("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", dump.toString(), "-d", target.uri(DB));
        } finally {
            Files.deleteIfExists(dump);
        }
    }

    @AfterAll
    static void stopServers() {
        if (source != null) source.close();
        if (target != null) target.close();
    }

    private static Connection connect(TestPostgres pg) {
        try {
            return pg.connect(DB);
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), String.join(" ", command) + " failed:\n" + output);
    }

    private static ComparisonResult compare() throws Exception {
        try (Connection a = source.connect(DB); Connection b = target.connect(DB)) {
            return DatabaseComparison.compare(a, b);
        }
    }

    @Test
    void pgDumpCopyComparesIdentical() throws Exception {
        ComparisonResult result = compare();
        assertTrue(result.identical(), result.toString());
        assertEquals(14, result.tablesCompared(), "9 tables and 4 partitions in app (not their parent), 1 in \"Ünïcode Schema\"");
        assertTrue(result.rowsCompared() > 2500, result.toString());
    }

    @Test
    void changedRowIsReportedWithItsTable() throws Exception {
        String table = "\"Ünïcode Schema\".\"Order \"\"Items\"\"\"";
        String before = target.queryValue(DB, "SELECT \"Weird Col\" FROM " + table + " WHERE \"ID\" = 3");
        target.execute(DB, "UPDATE " + table + " SET \"Weird Col\" = 'tampered' WHERE \"ID\" = 3");
        try {
            ComparisonResult result = compare();
            assertFalse(result.identical());
            assertTrue(result.differences().get(0).startsWith("table " + table + ": "), result.toString());
            assertTrue(result.differences().stream().anyMatch(d -> d.contains("row only on the target: (3,tampered,")), result.toString());
            assertTrue(result.differences().stream().anyMatch(d -> d.contains("row only on the source: (3,")), result.toString());
            assertEquals(3, result.differences().size(), result.toString());
        } finally {
            target.execute(DB, "UPDATE " + table + " SET \"Weird Col\" = " + dev.ferry.agent.name.QualifiedName.literal(before) + " WHERE \"ID\" = 3");
        }
        assertTrue(compare().identical());
    }

    @Test
    void missingRowsSequencesAndTablesAreReported() throws Exception {
        target.execute(DB, "CREATE TABLE app.only_here (id int)",
                "SELECT setval('app.invoice_number_seq', 1)",
                "DELETE FROM app.settings WHERE key = 'key.1'");
        try {
            List<String> differences = compare().differences();
            assertTrue(differences.contains("table \"app\".\"only_here\" exists only on the target"), differences.toString());
            assertTrue(differences.stream().anyMatch(d -> d.startsWith("table \"app\".\"settings\": 10 rows on the source, 9 on the target")), differences.toString());
            assertTrue(differences.stream().anyMatch(d -> d.startsWith("table \"app\".\"settings\": row only on the source: (key.1,")), differences.toString());
            assertTrue(differences.stream().anyMatch(d -> d.startsWith("sequence \"app\".\"invoice_number_seq\": source last_value=")
                    && d.endsWith("target last_value=1 is_called=true")), differences.toString());
        } finally {
            target.execute(DB, "DROP TABLE app.only_here");
            try (Connection a = source.connect(DB); Connection b = target.connect(DB)) {
                // restore the row and the sequence from the source
                var rs = a.createStatement().executeQuery("SELECT value, (SELECT last_value FROM app.invoice_number_seq) FROM app.settings WHERE key = 'key.1'");
                rs.next();
                var ps = b.prepareStatement("INSERT INTO app.settings VALUES ('key.1', ?)");
                ps.setString(1, rs.getString(1));
                ps.execute();
                b.createStatement().execute("SELECT setval('app.invoice_number_seq', " + rs.getLong(2) + ")");
            }
        }
        assertTrue(compare().identical(), compare().toString());
    }
}
