package dev.ferry.agent.demo;

import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

@Timeout(180)
class SampleDatabaseTest {
    private static TestPostgres pg;

    @BeforeAll
    static void startServer() {
        pg = TestPostgres.start();
    }

    @AfterAll
    static void stopServer() {
        if (pg != null) pg.close();
    }

    @Test
    void sampleHoldsTheHardCasesOnPostgres15() throws Exception {
        String db = pg.createDatabase("sample15");
        try (Connection c = pg.connect(db)) {
            SampleDatabase.create(c, 1000);
        }
        assertEquals("1000", pg.queryValue(db, "SELECT count(*) FROM app.orders"));
        assertEquals("2000", pg.queryValue(db, "SELECT count(*) FROM app.order_lines"));
        // every partition, the default one included, holds rows
        assertEquals(List.of(List.of("events_2023", "t"), List.of("events_2024", "t"), List.of("events_2025", "t"), List.of("events_default", "t")),
                pg.query(db, "SELECT c.relname, EXISTS (SELECT 1 FROM app.events e WHERE e.tableoid = c.oid) FROM pg_inherits i "
                        + "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'app.events'::regclass ORDER BY 1"));
        assertEquals(List.of(List.of("NaN"), List.of("Infinity"), List.of("-Infinity")),
                pg.query(db, "SELECT DISTINCT c_numeric::text FROM app.all_types WHERE c_numeric IN ('NaN', 'Infinity', '-Infinity') ORDER BY 1 DESC"));
        assertTrue(Long.parseLong(pg.queryValue(db, "SELECT count(*) FROM (SELECT 1 FROM app.page_views GROUP BY path, visitor, viewed_on, hits "
                + "HAVING count(*) > 1) d")) > 5, "identical rows in the REPLICA IDENTITY FULL table");
        assertEquals("f", pg.queryValue(db, "SELECT relreplident FROM pg_class WHERE oid = 'app.page_views'::regclass"));
        assertEquals("d", pg.queryValue(db, "SELECT relreplident FROM pg_class WHERE oid = 'app.audit_log'::regclass"));
        assertEquals("1000", pg.queryValue(db, "SELECT count(*) FROM app.audit_log"), "the trigger logged each order insert");
        // documents are stored out of line: their TOAST table holds chunks for every row
        String toast = pg.queryValue(db, "SELECT reltoastrelid::regclass FROM pg_class WHERE oid = 'app.documents'::regclass");
        assertTrue(Long.parseLong(pg.queryValue(db, "SELECT count(DISTINCT chunk_id) FROM " + toast)) >= 3 * 20);
        assertEquals("t", pg.queryValue(db, "SELECT bool_and(amount = quantity * unit_price) FROM app.order_lines"));
        assertEquals("100", pg.queryValue(db, "SELECT count(*) FROM \"Ünïcode Schema\".\"Order \"\"Items\"\"\" WHERE \"Weird Col\" LIKE 'wëird%'"));
        assertEquals("t", pg.queryValue(db, "SELECT last_value > 1000 FROM app.invoice_number_seq"));
    }

    @ParameterizedTest
    @ValueSource(ints = {13, 17})
    void sampleAdaptsToOtherMajors(int major) throws Exception {
        assumeTrue(TestPostgres.available(major), "no PostgreSQL " + major + " binaries");
        try (TestPostgres other = TestPostgres.start(major, Map.of())) {
            String db = other.createDatabase("sample" + major);
            try (Connection c = other.connect(db)) {
                SampleDatabase.create(c, 200);
            }
            assertEquals("200", other.queryValue(db, "SELECT count(*) FROM app.orders"));
            // numeric Infinity exists from PostgreSQL 14 on; on 13 those rows hold NULL
            String infinities = other.queryValue(db, "SELECT count(*) FROM app.all_types WHERE c_numeric::text LIKE '%Infinity'");
            assertEquals(major >= 14, Long.parseLong(infinities) > 0, infinities + " Infinity values on " + major);
            assertEquals("t", other.queryValue(db, "SELECT count(*) > 0 FROM app.all_types WHERE c_numeric::text = 'NaN'"));
        }
    }

    @Test
    void schemaSqlAloneBuildsTheEmptySchema() throws Exception {
        String db = pg.createDatabase("schema_only");
        try (Connection c = pg.connect(db); Statement s = c.createStatement()) {
            s.execute(SampleDatabase.schemaSql());
        }
        assertEquals(List.of(List.of("app", "14"), List.of("Ünïcode Schema", "1")),
                pg.query(db, "SELECT n.nspname, count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        + "WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('app', 'Ünïcode Schema') GROUP BY 1 ORDER BY 1"));
        assertEquals("0", pg.queryValue(db, "SELECT count(*) FROM app.orders"));
    }
}
