package dev.ferry.agent.preflight;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.testing.FerryCommand;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Preflight against real, deliberately misconfigured servers: everything wrong in one run, nothing created. */
@Timeout(180)
class PreflightTest {
    private static TestPostgres healthy;
    private static TestPostgres walReplica;
    private static TestPostgres target;

    @BeforeAll
    static void start() {
        healthy = TestPostgres.start();
        walReplica = TestPostgres.start(TestPostgres.DEFAULT_MAJOR, Map.of("wal_level", "replica"));
        target = TestPostgres.start();
    }

    @AfterAll
    static void stop() {
        for (TestPostgres server : new TestPostgres[] {healthy, walReplica, target}) if (server != null) server.close();
    }

    static FerryCommand ferry(String... args) {
        return FerryCommand.run(args);
    }

    @Test
    void misconfiguredServersAreReportedInOneRunAndNothingIsCreated() {
        walReplica.createDatabase("bad");
        walReplica.execute("bad",
                "CREATE ROLE migrator LOGIN",
                "CREATE TABLE public.no_key (code text NOT NULL, note text)",
                "CREATE UNIQUE INDEX no_key_code ON public.no_key (code)",
                "CREATE TABLE public.readings (day date NOT NULL, v int) PARTITION BY RANGE (day)",
                "ALTER TABLE public.readings REPLICA IDENTITY FULL",
                "CREATE TABLE public.readings_a PARTITION OF public.readings FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
                "CREATE TABLE public.readings_b PARTITION OF public.readings FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
                "ALTER TABLE public.readings_a REPLICA IDENTITY FULL",
                "CREATE UNLOGGED TABLE public.scratch (id int PRIMARY KEY)",
                "CREATE TABLE public.deferred (id int PRIMARY KEY DEFERRABLE)",
                "CREATE TABLE public.doubled (a int NOT NULL, twice int GENERATED ALWAYS AS (a * 2) STORED, PRIMARY KEY (a, twice))",
                "SELECT lo_create(0)");
        target.createDatabase("bad");
        target.execute("bad", "CREATE TABLE public.leftover (id int)");
        String[] args = {"--source", walReplica.uri("bad").replace("postgres@", "migrator:pw@"), "--target", target.uri("bad")};

        FerryCommand report = ferry(concat(new String[] {"preflight"}, args));
        assertEquals(ExitCode.PREFLIGHT_FAILED, report.code(), report.out() + report.err());
        String text = report.out();
        for (String expected : new String[] {
                "FAIL wal-level: wal_level is 'replica'", "ALTER SYSTEM SET wal_level = logical",
                "FAIL replication-privilege", "ALTER ROLE \"migrator\" WITH REPLICATION",
                "FAIL publication-privilege", "\"public\".\"no_key\"",
                "WARN tuple-identifier", "ALTER TABLE \"public\".\"no_key\" REPLICA IDENTITY USING INDEX no_key_code;",
                "ALTER TABLE \"public\".\"readings_b\" REPLICA IDENTITY FULL;", "partitions \"public\".\"readings_b\"",
                "ALTER TABLE \"public\".\"deferred\" REPLICA IDENTITY FULL;  -- its primary key is DEFERRABLE",
                "WARN unlogged-tables: unlogged tables are not migrated: \"public\".\"scratch\"",
                "FAIL generated-columns: the primary key or replica identity index of \"public\".\"doubled\" holds a generated column",
                "ALTER TABLE \"public\".\"doubled\" REPLICA IDENTITY FULL;",
                "WARN large-objects: 1 large objects",
                "FAIL target-empty: the target already has 1 tables: \"public\".\"leftover\"",
                "nothing was created on either server"}) {
            assertTrue(text.contains(expected), "report mentions " + expected + ":\n" + text);
        }
        assertTrue(!text.contains(":pw@"), "password masked");

        FerryCommand json = ferry(concat(new String[] {"preflight", "--json"}, args));
        assertTrue(json.out().startsWith("{\"ok\":false,\"checks\":["), json.out());
        assertTrue(json.out().contains("\"check\":\"wal-level\",\"status\":\"FAIL\""), json.out());

        FerryCommand run = ferry(concat(new String[] {"run", "--log-dir", "target/test-tmp/logs-preflight-bad"}, args));
        assertEquals(ExitCode.PREFLIGHT_FAILED, run.code(), run.err());
        assertTrue(run.err().contains("ALTER SYSTEM SET wal_level = logical"), run.err());
        assertEquals("0", walReplica.queryValue("bad", "SELECT count(*) FROM pg_publication"), "no publication created");
        assertEquals("0", walReplica.queryValue("bad", "SELECT count(*) FROM pg_replication_slots"), "no slot created");
        assertEquals("f", target.queryValue("bad", "SELECT to_regnamespace('ferry') IS NOT NULL"), "no state schema on the target");
    }

    @Test
    void healthyServersPassAndAcceptedRisksDoNotBlock() {
        healthy.createDatabase("good");
        healthy.execute("good", "CREATE TABLE public.t (id int PRIMARY KEY, x numeric)", "INSERT INTO public.t VALUES (1, 1)");
        target.createDatabase("good");
        FerryCommand report = ferry("preflight", "--source", healthy.uri("good"), "--target", target.uri("good"));
        assertEquals(ExitCode.OK, report.code(), report.out());
        assertTrue(report.out().contains("preflight passed"), report.out());
        assertTrue(!report.out().contains("FAIL"), report.out());
    }

    @Test
    void infinityIntoAnOlderTargetFailsNamingTheColumnAndTheOption() {
        try (TestPostgres target13 = TestPostgres.start(13, Map.of())) {
            healthy.createDatabase("inf");
            healthy.execute("inf", "CREATE TABLE public.prices (id int PRIMARY KEY, amount numeric)", "INSERT INTO public.prices VALUES (1, 'Infinity')");
            target13.createDatabase("inf");
            String[] args = {"preflight", "--source", healthy.uri("inf"), "--target", target13.uri("inf")};
            FerryCommand report = ferry(args);
            assertTrue(report.out().contains("FAIL numeric-infinity: numeric Infinity values in \"public\".\"prices\".\"amount\""), report.out());
            assertTrue(report.out().contains("--numeric-nan-inf null"), report.out());
            assertTrue(report.out().contains("FAIL target-version"), report.out());
            FerryCommand accepted = ferry(concat(args, new String[] {"--numeric-nan-inf", "null", "--accept-risk", "target-version"}));
            assertEquals(ExitCode.OK, accepted.code(), accepted.out());
            assertTrue(accepted.out().contains("FAIL (accepted) target-version"), accepted.out());
        }
    }

    /** Publications list each partition on its own, so the role must own the partitions, not only their root. */
    @Test
    void aPartitionOwnedByAnotherRoleFailsThePublicationPrivilegeCheck() {
        healthy.createDatabase("owners");
        healthy.execute("owners",
                "CREATE ROLE table_owner LOGIN REPLICATION",
                "GRANT CREATE ON DATABASE owners TO table_owner",
                "CREATE TABLE public.sales (id int PRIMARY KEY) PARTITION BY RANGE (id)",
                "CREATE TABLE public.sales_1 PARTITION OF public.sales FOR VALUES FROM (0) TO (100)",
                "ALTER TABLE public.sales OWNER TO table_owner");
        target.createDatabase("owners");
        FerryCommand report = ferry("preflight", "--source", healthy.uri("owners").replace("postgres@", "table_owner:pw@"), "--target", target.uri("owners"));
        assertTrue(report.out().contains("does not own \"public\".\"sales_1\""), report.out());
        assertTrue(!report.out().contains("\"public\".\"sales\","), report.out());
    }

    /** Every ferry session runs with row_security = off: a table whose policies would apply stops it, so preflight names them first. */
    @Test
    void rowSecurityThatWouldApplyToFerrysUsersFails() {
        healthy.createDatabase("rls");
        healthy.execute("rls", "CREATE ROLE rls_reader LOGIN REPLICATION",
                "CREATE TABLE public.open (id int PRIMARY KEY)", "CREATE TABLE public.guarded (id int PRIMARY KEY)",
                "GRANT SELECT ON ALL TABLES IN SCHEMA public TO rls_reader",
                "ALTER TABLE public.guarded ENABLE ROW LEVEL SECURITY", "ALTER TABLE public.guarded FORCE ROW LEVEL SECURITY",
                "CREATE POLICY positive ON public.guarded USING (id > 0)");
        target.createDatabase("rls");
        target.execute("rls", "CREATE ROLE rls_writer LOGIN");
        FerryCommand subject = ferry("preflight", "--source", healthy.uri("rls").replace("postgres@", "rls_reader@"),
                "--target", target.uri("rls").replace("postgres@", "rls_writer@"));
        assertEquals(ExitCode.PREFLIGHT_FAILED, subject.code(), subject.out());
        for (String expected : new String[] {
                "FAIL source-row-security: row security policies apply to \"rls_reader\" on the source in \"public\".\"guarded\"\n",
                "ALTER ROLE \"rls_reader\" BYPASSRLS;",
                "FAIL target-row-security: row security policies will apply to \"rls_writer\" on the target in \"public\".\"guarded\"\n",
                "ALTER ROLE \"rls_writer\" BYPASSRLS;"}) {
            assertTrue(subject.out().contains(expected), "report mentions " + expected + ":\n" + subject.out());
        }

        FerryCommand superusers = ferry("preflight", "--source", healthy.uri("rls"), "--target", target.uri("rls"));
        assertTrue(superusers.out().contains("PASS source-row-security"), superusers.out());
        assertTrue(superusers.out().contains("PASS target-row-security"), superusers.out());
    }

    static String[] concat(String[] a, String[] b) {
        String[] all = new String[a.length + b.length];
        System.arraycopy(a, 0, all, 0, a.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }
}
