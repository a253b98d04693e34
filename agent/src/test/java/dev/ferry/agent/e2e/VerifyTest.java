package dev.ferry.agent.e2e;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.demo.SampleDatabase;
import dev.ferry.agent.demo.Workload;
import dev.ferry.agent.testing.FerryCommand;
import dev.ferry.agent.verify.TableResult;
import dev.ferry.agent.verify.Verification;
import dev.ferry.agent.verify.VerifyReport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.sql.Connection;
import java.time.Duration;
import java.util.Arrays;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** `ferry verify` on real servers: identical pairs pass, a changed row is found and shown, a streaming migration verifies. */
@Timeout(300)
class VerifyTest extends TwoServers {
    private static final String[] TABLES = {
            "CREATE TABLE public.big (id bigint PRIMARY KEY, v text, at timestamptz)",
            "INSERT INTO public.big SELECT g, md5(g::text), '2026-01-01'::timestamptz + g * interval '1 minute' FROM generate_series(1, 20000) g",
            "CREATE TABLE public.keyless (v text, n numeric)",
            "INSERT INTO public.keyless SELECT 'row ' || (g % 7), g / 3.0 FROM generate_series(1, 500) g",
            "CREATE TABLE public.\"Named Key\" (\"Code\" text PRIMARY KEY, payload bytea)",
            "INSERT INTO public.\"Named Key\" SELECT 'k' || g, decode(md5(g::text), 'hex') FROM generate_series(1, 300) g",
            "CREATE SEQUENCE public.counter",
            "SELECT setval('public.counter', 42)"};

    @Test
    void identicalDatabasesPassAndBigTablesAreComparedInKeyRanges() throws Exception {
        MigrationFixture pair = new MigrationFixture(source, target, "verify_same");
        source.execute("verify_same", TABLES);
        source.execute("verify_same", "ANALYZE");
        // The target's columns sit in another physical order (a dropped column before them): rows still compare equal.
        target.execute("verify_same", "CREATE TABLE public.big (gone int, id bigint PRIMARY KEY, v text, at timestamptz)", "ALTER TABLE public.big DROP COLUMN gone");
        target.execute("verify_same", Arrays.copyOfRange(TABLES, 1, TABLES.length));

        Verified verified = verify(pair);
        VerifyReport report = verified.report();

        assertTrue(report.identical(), verified.text());
        TableResult big = report.tables().stream().filter(t -> t.table().name().equals("big")).findFirst().orElseThrow();
        assertTrue(big.ranges() > 4, "big compared in " + big.ranges() + " key ranges");
        assertEquals(20000, big.sourceRows());
        assertEquals(20000, big.targetRows());
        FerryCommand command = FerryCommand.run("verify", "--source", sourceUri(pair), "--target", targetUri(pair));
        assertEquals(ExitCode.OK, command.code(), command.out() + command.err());
        assertTrue(command.out().strip().endsWith("verify: identical"), command.out());
    }

    @Test
    void aRowChangedOnTheTargetIsShownAndExitsSix() throws Exception {
        MigrationFixture pair = new MigrationFixture(source, target, "verify_diff");
        source.execute("verify_diff", TABLES);
        target.execute("verify_diff", TABLES);
        target.execute("verify_diff", "UPDATE public.big SET v = 'changed on the target' WHERE id = 777",
                "DELETE FROM public.keyless WHERE ctid = (SELECT min(ctid) FROM public.keyless)", "SELECT setval('public.counter', 7)");

        FerryCommand command = FerryCommand.run("verify", "--source", sourceUri(pair), "--target", targetUri(pair));

        assertEquals(ExitCode.DIFFERENT, command.code(), command.out() + command.err());
        String out = command.out();
        assertTrue(out.contains("DIFFERS  \"public\".\"big\""), out);
        assertTrue(out.contains("row only on the target: (777,\"changed on the target\""), out);
        assertTrue(out.contains("\"public\".\"keyless\": 500 rows on the source, 499 on the target"), out);
        assertTrue(out.contains("sequence \"public\".\"counter\" is behind on the target: source at 42, target at 7"), out);
        assertTrue(out.contains("ok       \"public\".\"Named Key\""), out);
        assertTrue(out.strip().endsWith("verify: 3 differences (2 tables differ)"), out);
        assertFalse(out.contains(MigrationFixture.PASSWORD) || command.err().contains(MigrationFixture.PASSWORD), "password printed");
    }

    @Test
    void verifyDuringTheStreamWaitsForRowsInFlightAndFindsATamperedRow() throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, "verify_live");
        try (Connection c = migration.source.open()) {
            SampleDatabase.create(c, 1000);
        }
        source.execute("verify_live", "CREATE TABLE public.untouched (id int PRIMARY KEY, v text)",
                "INSERT INTO public.untouched SELECT g, 'v' || g FROM generate_series(1, 100) g");
        // A steady writer, slow enough that every key range has quiet moments in which it can be verified.
        try (Workload workload = new Workload(migration.source::open, 11, 5)) {
            workload.start();
            MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.COPY, 2));
            agent.awaitStreaming(Duration.ofMinutes(3));
            workload.awaitTransactions(workload.transactions() + 20, Duration.ofMinutes(1));

            Verified whileStreaming = verify(migration);
            assertTrue(whileStreaming.report().streaming());
            assertTrue(whileStreaming.report().identical(), whileStreaming.text());

            target.execute("verify_live", "UPDATE public.untouched SET v = 'tampered' WHERE id = 5");
            Verified tampered = verify(migration);
            assertEquals(1, tampered.report().differingTables(), tampered.text());
            assertTrue(tampered.text().contains("row only on the target: (5,tampered)"), tampered.text());

            workload.close();
            target.execute("verify_live", "UPDATE public.untouched SET v = 'v5' WHERE id = 5");
            assertTrue(migration.cutover(Duration.ofMinutes(2)).contains("migration finished"));
            agent.awaitSummary(Duration.ofSeconds(60));
        }
        Verified after = verify(migration);
        assertFalse(after.report().streaming());
        assertTrue(after.report().identical(), after.text());
    }

    /** A verification in-process, with small key ranges so the test's tables are cut into several. */
    private static Verified verify(MigrationFixture pair) {
        StringWriter out = new StringWriter();
        VerifyReport report = new Verification(pair.source, pair.target,
                new Verification.Options(2, Set.of(), 5, Duration.ofSeconds(30), 64 * 1024)).run(new PrintWriter(out, true));
        return new Verified(report, out.toString());
    }

    private record Verified(VerifyReport report, String text) {}

    private static String sourceUri(MigrationFixture pair) {
        return source.uri(pair.database).replace("postgres@", "postgres:" + MigrationFixture.PASSWORD + "@");
    }

    private static String targetUri(MigrationFixture pair) {
        return target.uri(pair.database).replace("postgres@", "postgres:" + MigrationFixture.PASSWORD + "@");
    }
}
