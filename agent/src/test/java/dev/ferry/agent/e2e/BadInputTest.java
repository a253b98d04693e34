package dev.ferry.agent.e2e;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.testing.FerryCommand;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad input of every kind a person types or a server presents: each case gets one clear message naming what is
 * wrong, a documented exit code, no stack trace and no password on the console, and nothing created on either server.
 */
@Timeout(240)
class BadInputTest {
    private static final String SECRET = "s3cret-Pa55";
    private static TestPostgres source;
    private static TestPostgres target;
    private static TestPostgres walReplica;

    /** One command line and what it must say. */
    private record Case(String name, int exitCode, String expected, String... args) {}

    @BeforeAll
    static void start() {
        source = TestPostgres.start();
        target = TestPostgres.start();
        walReplica = TestPostgres.start(TestPostgres.DEFAULT_MAJOR, Map.of("wal_level", "replica"));
        source.createDatabase("app");
        source.execute("app", "CREATE TABLE public.t (id int PRIMARY KEY, v text)", "INSERT INTO public.t VALUES (1, 'a')",
                "CREATE SEQUENCE public.s");
        target.createDatabase("app");
        target.createDatabase("busy");
        target.execute("busy", "CREATE TABLE public.someone_elses (id int)");
        walReplica.createDatabase("app");
        walReplica.execute("app", "CREATE TABLE public.t (id int PRIMARY KEY)");
    }

    @AfterAll
    static void stop() {
        for (TestPostgres server : new TestPostgres[] {source, target, walReplica}) {
            if (server != null) server.close();
        }
    }

    @Test
    void everyBadInputGetsOneClearMessageAnExitCodeAndCreatesNothing() {
        String src = uri(source, "app");
        String dst = uri(target, "app");
        List<Case> cases = List.of(
                new Case("unknown URI scheme", ExitCode.BAD_INPUT, "--source", "run", "--source", "mysql://root:" + SECRET + "@db/app", "--target", dst),
                new Case("port that is not a number", ExitCode.BAD_INPUT, "--target", "run", "--source", src, "--target", "postgres://u:" + SECRET + "@localhost:notaport/app"),
                new Case("no source at all", ExitCode.BAD_INPUT, "--source", "run", "--source", "", "--target", dst),
                new Case("source and target the same database", ExitCode.BAD_INPUT, "same database", "run", "--source", src, "--target", src),
                new Case("--jobs out of range", ExitCode.BAD_INPUT, "--jobs 0", "run", "--source", src, "--target", dst, "--jobs", "0"),
                new Case("--slot with characters a slot cannot have", ExitCode.BAD_INPUT, "--slot 'Bad-Slot'", "run", "--source", src, "--target", dst, "--slot", "Bad-Slot"),
                new Case("--schema value unknown", ExitCode.BAD_INPUT, "--schema", "run", "--source", src, "--target", dst, "--schema", "maybe"),
                new Case("--numeric-nan-inf value unknown", ExitCode.BAD_INPUT, "keep|null", "run", "--source", src, "--target", dst, "--numeric-nan-inf", "zero"),
                new Case("--exclude-table with two dots", ExitCode.BAD_INPUT, "--exclude-table 'db.app.orders'", "run", "--source", src, "--target", dst, "--exclude-table", "db.app.orders"),
                new Case("--include-schema with a dot", ExitCode.BAD_INPUT, "--include-schema 'app.orders'", "run", "--source", src, "--target", dst, "--include-schema", "app.orders"),
                new Case("--skip-table-data with an unclosed quote", ExitCode.BAD_INPUT, "--skip-table-data 'app.\"Orders'", "run", "--source", src, "--target", dst,
                        "--skip-table-data", "app.\"Orders"),
                new Case("verify --include-table with an empty name", ExitCode.BAD_INPUT, "--include-table 'app.'", "verify", "--source", src, "--target", dst, "--include-table", "app."),
                new Case("--log-format unknown", ExitCode.BAD_INPUT, "--log-format", "run", "--source", src, "--target", dst, "--log-format", "xml"),
                new Case("--log-files out of range", ExitCode.BAD_INPUT, "--log-files", "run", "--source", src, "--target", dst, "--log-files", "0"),
                new Case("cutover --timeout that is not a duration", ExitCode.BAD_INPUT, "--timeout", "cutover", "--source", src, "--target", dst, "--timeout", "soon"),
                new Case("status --max-retained-wal that is not a size", ExitCode.BAD_INPUT, "--max-retained-wal", "status", "--target", dst, "--max-retained-wal", "lots"),
                new Case("nothing listening on the port", ExitCode.UNREACHABLE, "refused", "run", "--source", "postgres://u:" + SECRET + "@127.0.0.1:1/app", "--target", dst),
                new Case("database missing on the source", ExitCode.UNREACHABLE, "does not exist", "run", "--source", uri(source, "no_such_db"), "--target", dst),
                new Case("database missing on the target", ExitCode.UNREACHABLE, "does not exist", "run", "--source", src, "--target", uri(target, "no_such_db")),
                new Case("sslmode=require against a server without TLS", ExitCode.UNREACHABLE, "TLS", "run", "--source", src + "?sslmode=require", "--target", dst),
                new Case("a source with wal_level = replica", ExitCode.PREFLIGHT_FAILED, "wal_level", "run", "--source", uri(walReplica, "app"), "--target", dst),
                new Case("a target that is not empty and not ferry's", ExitCode.PREFLIGHT_FAILED, "target-empty", "run", "--source", src, "--target", uri(target, "busy")),
                new Case("--metrics-port that is no port", ExitCode.BAD_INPUT, "--metrics-port 70000", "run", "--source", src, "--target", dst,
                        "--metrics-port", "70000"));

        List<String> failures = new ArrayList<>();
        String logDir = Path.of(System.getProperty("ferry.test.tmp", "target/test-tmp"), "logs-bad-input").toAbsolutePath().toString();
        for (Case c : cases) {
            // run's default log directory is ./logs: the module's, which is no place for a test's files.
            List<String> args = new ArrayList<>(List.of(c.args()));
            if (args.get(0).equals("run")) args.addAll(List.of("--log-dir", logDir));
            FerryCommand outcome = FerryCommand.run(args.toArray(String[]::new));
            String console = outcome.out() + outcome.err();
            if (outcome.code() != c.exitCode()) failures.add(c.name() + ": exit " + outcome.code() + ", expected " + c.exitCode() + ":\n" + console);
            else if (!console.contains(c.expected())) failures.add(c.name() + ": the message does not name '" + c.expected() + "':\n" + console);
            if (console.contains(SECRET)) failures.add(c.name() + ": the password was printed:\n" + console);
            if (console.contains("\tat dev.ferry") || console.contains("Exception:")) failures.add(c.name() + ": a stack trace on the console:\n" + console);
            String leftovers = leftovers();
            if (!leftovers.isEmpty()) failures.add(c.name() + ": left " + leftovers);
        }
        assertTrue(failures.isEmpty(), failures.size() + " of " + cases.size() + " cases wrong:\n\n" + String.join("\n\n", failures));
        assertEquals(23, cases.size());
        assertFalse(leftovers().contains("slot"));
    }

    /** Anything ferry creates: slots, publications, schema ferry, tables on the empty target. */
    private static String leftovers() {
        StringBuilder found = new StringBuilder();
        for (TestPostgres server : new TestPostgres[] {source, walReplica}) {
            String slots = server.queryValue("app", "SELECT count(*) FROM pg_replication_slots");
            String publications = server.queryValue("app", "SELECT count(*) FROM pg_publication");
            if (!"0".equals(slots)) found.append(slots).append(" slot(s) on a source; ");
            if (!"0".equals(publications)) found.append(publications).append(" publication(s) on a source; ");
        }
        String onTarget = target.queryValue("app", "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                + " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')");
        if (!"0".equals(onTarget)) found.append(onTarget).append(" relation(s) on the target; ");
        String ferrySchema = target.queryValue("app", "SELECT count(*) FROM pg_namespace WHERE nspname = 'ferry'");
        if (!"0".equals(ferrySchema)) found.append("schema ferry on the target; ");
        return found.toString();
    }

    private static String uri(TestPostgres server, String database) {
        return server.uri(database).replace("postgres@", "postgres:" + SECRET + "@");
    }
}
