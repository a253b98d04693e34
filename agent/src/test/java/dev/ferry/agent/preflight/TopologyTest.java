package dev.ferry.agent.preflight;

import dev.ferry.agent.ExitCode;
import dev.ferry.testing.Deadline;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static dev.ferry.agent.preflight.PreflightTest.ferry;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Sources ferry must refuse: a real standby (pg_basebackup -R) and a real PgBouncer in front of the primary. */
@Timeout(180)
class TopologyTest {
    private static final Path DEBIAN_BIN = Path.of("/usr/lib/postgresql/15/bin");

    @Test
    void standbySourceFailsWithTheExplanation() throws Exception {
        assumeTrue(Files.isExecutable(DEBIAN_BIN.resolve("pg_basebackup")) && Files.isExecutable(DEBIAN_BIN.resolve("postgres")),
                "Debian's PostgreSQL 15 server is not installed (apt-get install postgresql-15)");
        try (TestPostgres primary = TestPostgres.start(); TestPostgres target = TestPostgres.start()) {
            Path standbyData = Files.createTempDirectory("ferry-standby-");
            run(DEBIAN_BIN.resolve("pg_basebackup").toString(), "-h", "localhost", "-p", String.valueOf(primary.port()),
                    "-U", "postgres", "-D", standbyData.toString(), "-R", "-X", "stream");
            // Debian's server refuses to run as root: hand the copy to the postgres user.
            run("chown", "-R", "postgres", standbyData.toString());
            run("chmod", "700", standbyData.toString());
            int port;
            try (ServerSocket free = new ServerSocket(0)) {
                port = free.getLocalPort();
            }
            run("runuser", "-u", "postgres", "--", DEBIAN_BIN.resolve("pg_ctl").toString(), "-D", standbyData.toString(), "-w", "-t", "60",
                    "-l", standbyData.resolve("server.log").toString(), "-o", "-p " + port + " -k /tmp -c listen_addresses=127.0.0.1 -c max_wal_senders=20 -c max_replication_slots=20 -c max_connections=100", "start");
            try {
                target.createDatabase("from_standby");
                dev.ferry.agent.testing.FerryCommand report = ferry("preflight", "--source", "postgres://postgres@127.0.0.1:" + port + "/postgres",
                        "--target", target.uri("from_standby"));
                assertEquals(ExitCode.PREFLIGHT_FAILED, report.code(), report.out() + report.err());
                assertTrue(report.out().contains("FAIL source-is-standby: the source postgres://postgres@127.0.0.1:" + port + "/postgres is a standby"), report.out());
                assertTrue(report.out().contains("point --source at the primary"), report.out());
            } finally {
                run("runuser", "-u", "postgres", "--", DEBIAN_BIN.resolve("pg_ctl").toString(), "-D", standbyData.toString(), "-m", "immediate", "stop");
            }
        }
    }

    private static void run(String... command) throws Exception {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        assertTrue(process.waitFor(90, TimeUnit.SECONDS), String.join(" ", command) + " timed out");
        assertEquals(0, process.exitValue(), String.join(" ", command) + " failed");
    }

    @Test
    void sourceBehindPgBouncerFailsAskingForADirectConnection() throws Exception {
        Path pgbouncer = Path.of("/usr/sbin/pgbouncer");
        assumeTrue(Files.isExecutable(pgbouncer), "pgbouncer is not installed (apt-get install pgbouncer)");
        try (TestPostgres server = TestPostgres.start()) {
            server.createDatabase("pooled");
            Path dir = Files.createTempDirectory("ferry-pgbouncer-");
            int port;
            try (ServerSocket free = new ServerSocket(0)) {
                port = free.getLocalPort();
            }
            Files.writeString(dir.resolve("pgbouncer.ini"), "[databases]\npooled = host=127.0.0.1 port=" + server.port() + " dbname=pooled\n"
                    + "[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = " + port + "\nauth_type = trust\nauth_file = " + dir.resolve("users.txt")
                    + "\npool_mode = session\nlogfile = " + dir.resolve("pgbouncer.log") + "\npidfile = " + dir.resolve("pgbouncer.pid") + "\n");
            Files.writeString(dir.resolve("users.txt"), "\"postgres\" \"\"\n");
            new ProcessBuilder("chown", "-R", "postgres", dir.toString()).start().waitFor();
            Process bouncer = new ProcessBuilder(pgbouncer.toString(), "-u", "postgres", dir.resolve("pgbouncer.ini").toString())
                    .redirectErrorStream(true).redirectOutput(dir.resolve("console.log").toFile()).start();
            try {
                Deadline.await("pgbouncer to listen on " + port, Duration.ofSeconds(30), () -> {
                    try (Socket ignored = new Socket("127.0.0.1", port)) {
                        return true;
                    } catch (IOException notYet) {
                        if (!bouncer.isAlive()) throw new AssertionError("pgbouncer exited; see " + dir);
                        return false;
                    }
                });
                dev.ferry.agent.testing.FerryCommand report = ferry("preflight", "--source", "postgres://postgres@127.0.0.1:" + port + "/pooled",
                        "--target", server.uri("postgres"));
                assertEquals(ExitCode.PREFLIGHT_FAILED, report.code(), report.out() + report.err());
                String all = report.out() + report.err();
                assertTrue(all.contains("connection pooler") && all.contains("connect to the database directly"), all);
                assertEquals("0", server.queryValue("pooled", "SELECT count(*) FROM pg_replication_slots"), "nothing created");
            } finally {
                bouncer.destroy();
                bouncer.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }
}
