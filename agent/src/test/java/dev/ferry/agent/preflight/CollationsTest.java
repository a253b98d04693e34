package dev.ferry.agent.preflight;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.testing.FerryCommand;
import dev.ferry.testing.Deadline;
import dev.ferry.testing.DebianPostgres;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The `collations` check against real servers: a collation the source defines itself passes when the target can make
 * it (and the migration then does), and fails where the target truly cannot: a libc locale its host lacks, the
 * builtin provider before PostgreSQL 17, or any collation absent under --schema existing. The embedded binaries and
 * Debian's PostgreSQL 15 both have ICU, so "a target without ICU" is checked by reading, not against a server.
 */
@Timeout(300)
class CollationsTest {
    private static final String ICU_SCHEMA = """
            CREATE COLLATION public.mycoll (provider = icu, locale = 'fr-FR');
            CREATE TABLE public.c (id int PRIMARY KEY, t text COLLATE public.mycoll);
            INSERT INTO public.c VALUES (1, 'côte'), (2, 'cote'), (3, 'coté'), (4, 'Côte');
            """;
    private static TestPostgres source;
    private static TestPostgres target;

    @BeforeAll
    static void start() {
        source = TestPostgres.start();
        target = TestPostgres.start();
    }

    @AfterAll
    static void stop() {
        if (source != null) source.close();
        if (target != null) target.close();
    }

    private static String collationsLine(String report) {
        return report.lines().filter(l -> l.contains(" collations:")).findFirst().orElse("(no collations line)\n" + report);
    }

    @Test
    void aCollationTheSourceDefinesPassesAndTheMigrationCreatesIt() throws Exception {
        source.createDatabase("icu");
        source.execute("icu", ICU_SCHEMA);
        target.createDatabase("icu");
        String[] servers = {"--source", source.uri("icu"), "--target", target.uri("icu")};

        FerryCommand report = FerryCommand.run(PreflightTest.concat(new String[] {"preflight"}, servers));
        assertEquals(ExitCode.OK, report.code(), report.out());
        assertTrue(collationsLine(report.out()).startsWith("PASS collations:"), report.out());
        assertTrue(collationsLine(report.out()).contains("the schema copy creates \"public\".\"mycoll\" (ICU, locale 'fr-FR')"), report.out());

        Path logs = Path.of("target/test-tmp/logs-collations-icu").toAbsolutePath();
        CompletableFuture<FerryCommand> run = CompletableFuture.supplyAsync(() -> FerryCommand.run(PreflightTest.concat(
                new String[] {"run", "--log-dir", logs.toString(), "--work-dir", logs.resolveSibling("work-collations-icu").toString(), "--jobs", "1"}, servers)));
        Deadline.await("the migration to stream", Duration.ofMinutes(2), () -> {
            if (run.isDone()) throw new AssertionError("ferry run ended: " + run.join().err());
            return "t".equals(target.queryValue("icu", "SELECT to_regclass('ferry.migration') IS NOT NULL"))
                    && "stream".equals(target.queryValue("icu", "SELECT phase FROM ferry.migration WHERE heartbeat_at IS NOT NULL"));
        });
        FerryCommand cutover = FerryCommand.run(PreflightTest.concat(new String[] {"cutover", "--timeout", "1m"}, servers));
        assertEquals(ExitCode.OK, cutover.code(), cutover.err());
        assertEquals(ExitCode.OK, run.get(1, TimeUnit.MINUTES).code());

        assertEquals("mycoll", target.queryValue("icu", "SELECT co.collname FROM pg_attribute a JOIN pg_collation co ON co.oid = a.attcollation"
                + " WHERE a.attrelid = 'public.c'::regclass AND a.attname = 't'"));
        String order = "SELECT string_agg(t, ',' ORDER BY t) FROM public.c";
        assertEquals(source.queryValue("icu", order), target.queryValue("icu", order), "the target sorts as the source does");
    }

    @Test
    void underSchemaExistingACollationMissingOnTheTargetFails() {
        source.createDatabase("icu_existing");
        source.execute("icu_existing", ICU_SCHEMA);
        target.createDatabase("icu_existing");
        target.execute("icu_existing", "CREATE TABLE public.c (id int PRIMARY KEY, t text)");

        FerryCommand report = FerryCommand.run("preflight", "--schema", "existing", "--source", source.uri("icu_existing"), "--target", target.uri("icu_existing"));
        assertEquals(ExitCode.PREFLIGHT_FAILED, report.code(), report.out());
        assertTrue(collationsLine(report.out()).contains("FAIL collations:") && collationsLine(report.out())
                .contains("\"public\".\"mycoll\" (ICU, locale 'fr-FR') is missing on the target"), report.out());
        assertTrue(report.out().contains("CREATE COLLATION \"public\".\"mycoll\""), report.out());
    }

    /** Where a collation's locale is kept changed in 15 (colliculocale) and 17 (colllocale); 17 adds the builtin provider. */
    @ParameterizedTest(name = "source PostgreSQL {0}")
    @ValueSource(ints = {13, 17})
    void collationsOfOtherSourceVersionsAreReadWhereThatVersionKeepsThem(int major) {
        assumeTrue(TestPostgres.available(major), "no PostgreSQL " + major + " binaries");
        try (TestPostgres other = TestPostgres.start(major, Map.of())) {
            other.createDatabase("versions");
            other.execute("versions", ICU_SCHEMA);
            if (major >= 17) other.execute("versions", "CREATE COLLATION public.bytewise (provider = builtin, locale = 'C.UTF-8')",
                    "CREATE TABLE public.b (t text COLLATE public.bytewise)");
            target.createDatabase("versions" + major);
            FerryCommand report = FerryCommand.run("preflight", "--source", other.uri("versions"), "--target", target.uri("versions" + major));
            String line = collationsLine(report.out());
            if (major < 17) {
                assertTrue(line.startsWith("PASS collations:") && line.contains("\"public\".\"mycoll\" (ICU, locale 'fr-FR')"), report.out());
            } else {
                assertTrue(line.startsWith("FAIL collations:"), report.out());
                assertTrue(line.contains("\"public\".\"bytewise\" (builtin provider, locale 'C.UTF-8'): the builtin collation provider exists from PostgreSQL 17, the target runs 15"), line);
                assertTrue(!line.contains("mycoll"), "the ICU collation is fine: " + line);
            }
        }
    }

    /**
     * A libc locale the source's host has and the target's lacks: the source server runs with LOCPATH pointing at a
     * locale compiled for it alone, so the target truly cannot create the collation (checked first).
     */
    @Test
    void aLibcLocaleTheTargetsHostLacksFails() throws Exception {
        assumeTrue(DebianPostgres.available(), "Debian's postgresql-15 is not installed");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/localedef")) && Files.exists(Path.of("/usr/share/i18n/locales/sv_SE")), "localedef or the sv_SE locale source is missing");
        Path locales = Files.createTempDirectory("ferry-locpath-");
        Process localedef = new ProcessBuilder("localedef", "-i", "sv_SE", "-f", "UTF-8", locales.resolve("sv_SE.UTF-8").toString())
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        assertTrue(localedef.waitFor(2, TimeUnit.MINUTES) && Files.isDirectory(locales.resolve("sv_SE.UTF-8")), "localedef made sv_SE.UTF-8");
        new ProcessBuilder("chmod", "-R", "a+rX", locales.toString()).start().waitFor(30, TimeUnit.SECONDS);
        try (DebianPostgres swedish = DebianPostgres.start(Map.of(), Map.of("LOCPATH", locales.toString()))) {
            swedish.execute("postgres", "CREATE DATABASE libc");
            swedish.execute("libc", "CREATE COLLATION public.swedish (provider = libc, locale = 'sv_SE.UTF-8')",
                    "CREATE TABLE public.s (id int PRIMARY KEY, t text COLLATE public.swedish)");
            target.createDatabase("libc");
            assertThrows(IllegalStateException.class, () -> target.execute("libc", "CREATE COLLATION public.probe (provider = libc, locale = 'sv_SE.UTF-8')"),
                    "the target's host has no sv_SE.UTF-8");

            FerryCommand report = FerryCommand.run("preflight", "--source", swedish.uri("libc"), "--target", target.uri("libc"));
            assertEquals(ExitCode.PREFLIGHT_FAILED, report.code(), report.out());
            String line = collationsLine(report.out());
            assertTrue(line.startsWith("FAIL collations:") && line.contains("\"public\".\"swedish\" (libc, locale 'sv_SE.UTF-8'):"
                    + " the target's operating system does not offer locale sv_SE.UTF-8"), report.out());
            assertTrue(report.out().contains("install locale 'sv_SE.UTF-8' on the target's host"), report.out());
        } finally {
            new ProcessBuilder("rm", "-rf", locales.toString()).start().waitFor(30, TimeUnit.SECONDS);
        }
    }
}
