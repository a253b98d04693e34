package dev.ferry.agent.schema;

import dev.ferry.testing.DebianPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** pg_dump and pg_restore get the password in a file of their own: never on their command line or in their environment. */
@Timeout(120)
class ToolRunTest {
    // Characters libpq's password file escapes, and one it does not.
    private static final String PASSWORD = "s3cret:with\\colon#";

    @Test
    void thePasswordReachesTheToolThroughAFileOnlyAndTheFileIsGoneAfterwards() throws Exception {
        Path dir = Files.createTempDirectory(Files.createDirectories(Path.of(System.getProperty("ferry.test.tmp", "target/test-tmp"))), "toolrun");
        Path out = dir.resolve("out.txt");
        String script = "tr '\\0' '\\n' < /proc/$$/environ; echo ---; cat \"$PGPASSFILE\"; echo ---; ls -l \"$PGPASSFILE\"";

        ToolRun.Result result = ToolRun.run(List.of("/bin/sh", "-c", script), Map.of("PGPASSWORD", PASSWORD), out, dir.resolve("err.txt"));

        assertTrue(result.ok(), result.stderr());
        String[] parts = Files.readString(out).split("---\n");
        assertFalse(parts[0].contains("s3cret"), "the password is in the tool's environment:\n" + parts[0]);
        assertTrue(parts[0].contains("PGPASSFILE=" + dir), parts[0]);
        assertEquals("*:*:*:*:s3cret\\:with\\\\colon#\n", parts[1]);
        assertTrue(parts[2].startsWith("-rw-------"), "readable by its owner only: " + parts[2]);
        try (Stream<Path> left = Files.list(dir)) {
            assertTrue(left.noneMatch(p -> p.getFileName().toString().startsWith("pgpass")), "the password file is deleted");
        }
    }

    @Test
    void pgDumpLogsInWithThePasswordFile() throws Exception {
        assumeTrue(DebianPostgres.available(), "Debian's postgresql-15 is not installed (apt-get install postgresql-15)");
        try (DebianPostgres secured = DebianPostgres.startWithPasswordAndTls(PASSWORD)) {
            Path dir = Files.createTempDirectory(Files.createDirectories(Path.of(System.getProperty("ferry.test.tmp", "target/test-tmp"))), "toolrun");
            String uri = "postgresql://postgres@127.0.0.1:" + secured.port() + "/postgres?sslmode=require";
            ToolRun.Result result = ToolRun.run(List.of("/usr/lib/postgresql/15/bin/pg_dump", "--schema-only", "--dbname=" + uri),
                    Map.of("PGPASSWORD", PASSWORD), dir.resolve("dump.sql"), dir.resolve("dump.err"));
            assertTrue(result.ok(), "pg_dump logged in with the password file: " + result.stderr());
            assertTrue(Files.readString(dir.resolve("dump.sql")).contains("PostgreSQL database dump"));
        }
    }
}
