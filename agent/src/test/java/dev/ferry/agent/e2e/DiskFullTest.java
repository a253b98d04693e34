package dev.ferry.agent.e2e;

import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.faults.SmallDisk;
import dev.ferry.testing.Deadline;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The target's data directory (pg_wal with it, as on most servers) on a small filesystem that fills up under a live
 * migration, during the copy and during the apply: ferry says which server is out of space and what to do, retries
 * with growing delays while the disk stays full, and resumes once space returns; a target stopped because it could not
 * write WAL is waited for until an operator starts it again. Each run then cuts over and the databases compare
 * identical, so nothing was half-written. Needs root to mount the filesystem; skipped otherwise.
 */
@Timeout(600)
class DiskFullTest {
    /** Room left for the copy: less than its 31 MB of rows (and their WAL), more than the schema and ferry's state need. */
    static final long COPY_ROOM = 12L << 20;
    static SmallDisk disk;
    static TestPostgres source;
    static TestPostgres target;

    @BeforeAll
    static void startServers() {
        disk = SmallDisk.mount(Path.of(System.getProperty("ferry.test.tmp", "target/test-tmp")).toAbsolutePath(), 512);
        source = TestPostgres.start();
        target = TestPostgres.start(TestPostgres.DEFAULT_MAJOR, Map.of(), disk.path().resolve("data"));
    }

    @AfterAll
    static void stopServers() {
        if (source != null) source.close();
        try {
            if (target != null) target.close();
        } finally {
            if (disk != null) disk.close();
        }
    }

    @Test
    void targetDiskFullDuringTheCopyIsWaitedOut() throws Exception {
        fillTheDisk("fullcopy", When.COPY);
    }

    @Test
    void targetDiskFullDuringTheApplyIsWaitedOut() throws Exception {
        fillTheDisk("fullapply", When.APPLY);
    }

    @Test
    void targetStoppedByAFullWalDiskIsWaitedForUntilStartedAgain() throws Exception {
        fillTheDisk("fullwal", When.WAL);
    }

    /**
     * COPY: the disk has less room than the copy's rows before the agent starts (the copy lasts about a second here, too
     * short to aim at). APPLY: it fills to the last byte while the agent streams. In both, the target keeps spare WAL
     * segments, as a server that has run a while does, so what fails is a table's growth: ERROR, SQLSTATE 53100. WAL:
     * it fills while the agent streams, right after a WAL switch, so the target needs a new WAL segment it cannot
     * write: it stops (PANIC), fails its crash recovery for the same reason and stays down until started again.
     */
    private enum When { COPY, APPLY, WAL }

    private void fillTheDisk(String database, When when) throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, database);
        try {
            migrate(migration, when);
        } finally {
            disk.free(); // a failed case must not leave the next one a full disk
        }
    }

    private void migrate(MigrationFixture migration, When when) throws Exception {
        String database = migration.database;
        try (FaultRun run = new FaultRun(migration, when == When.WAL ? "target stopped by a full disk (WAL) during the apply"
                : "target disk full during the " + when.name().toLowerCase(), 29)) {
            if (when != When.WAL) keepSpareWalSegments(database);
            long filled = when == When.COPY ? disk.fill(COPY_ROOM) : 0;
            MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.COPY, 1));
            BooleanSupplier alive = () -> agent.outcome.get() == null;
            if (when != When.COPY) {
                run.awaitStreaming(alive);
                if (when == When.WAL) target.execute("postgres", "CREATE TABLE IF NOT EXISTS public.wal_burn (n int)", "INSERT INTO public.wal_burn VALUES (0)");
                filled = disk.fill(0);
                if (when == When.WAL) switchWalUntilTheTargetStops();
            }
            // Full until ferry has failed on it and waited (for the server to take a write, or to come back at all).
            Deadline.await("ferry to fail on the full disk and wait", Duration.ofMinutes(2), () -> {
                if (!alive.getAsBoolean()) throw new AssertionError("the agent stopped; see " + migration.logDir);
                String log = migration.log("ferry.log");
                return count(log, "is out of disk space") >= 2 || log.contains("still waiting for target");
            });
            disk.free();
            boolean restarted = startTargetIfItStopped();
            System.out.printf("DISK-FULL | %s | balloon %d MB | target %s%n", run.fault, filled >> 20,
                    restarted ? "had stopped, started again" : "stayed up");
            run.awaitStreaming(alive);
            run.awaitRecovered(Duration.ofMinutes(3), alive);
            run.cutoverAndCompare();
            agent.awaitSummary(Duration.ofSeconds(30));
            String log = migration.log("ferry.log");
            if (when == When.WAL) {
                assertTrue(restarted, "the target stopped when it could not write WAL");
                assertTrue(log.contains("still waiting for target " + migration.config(MigrationConfig.SchemaMode.COPY, 1).target().masked()),
                        "ferry.log names the server it waits for");
            } else {
                assertTrue(log.contains("the target " + migration.config(MigrationConfig.SchemaMode.COPY, 1).target().masked() + " is out of disk space"),
                        "ferry.log names the server that is full");
                assertTrue(log.contains("free space on the filesystem that holds the target's data directory"), "ferry.log says what to do");
            }
        }
    }

    /**
     * Uses up the spare WAL segments (from earlier tests) with WAL switches, until the target needs a new segment on
     * the full disk, cannot write it, and stops: the update's session is the first to go.
     */
    private static void switchWalUntilTheTargetStops() {
        for (int i = 0; i < 30; i++) {
            try {
                target.execute("postgres", "UPDATE public.wal_burn SET n = n + 1", "SELECT pg_switch_wal()");
            } catch (IllegalStateException stopped) {
                return;
            }
        }
        throw new AssertionError("the target did not stop after 30 WAL switches on a full disk");
    }

    /** WAL segments switched out and recycled by a checkpoint: the next ones exist already and need no new space. */
    private static void keepSpareWalSegments(String database) {
        target.execute(database, "CREATE TABLE IF NOT EXISTS public.wal_spare (n int)");
        for (int i = 0; i < 6; i++) target.execute(database, "INSERT INTO public.wal_spare VALUES (1)", "SELECT pg_switch_wal()");
        target.execute(database, "DROP TABLE public.wal_spare", "CHECKPOINT");
    }

    private static int count(String text, String phrase) {
        int n = 0;
        for (int at = text.indexOf(phrase); at >= 0; at = text.indexOf(phrase, at + 1)) n++;
        return n;
    }

    /**
     * A server that cannot write WAL stops (PANIC) and may fail its crash recovery for the same reason; an operator
     * starts it again once there is space. Returns whether it had to be.
     */
    private static boolean startTargetIfItStopped() throws IOException {
        Path pidFile = disk.path().resolve("data").resolve("postmaster.pid");
        boolean running = Files.exists(pidFile) && Files.exists(Path.of("/proc", Files.readAllLines(pidFile).get(0).strip()));
        if (!running) target.restart("fast");
        return !running;
    }
}
