package dev.ferry.agent.e2e;

import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.testing.Deadline;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;

/**
 * Server restarts under a running agent and a live writer: the source restarted with `pg_ctl restart -m fast` and
 * `-m immediate` (a crash) during the copy and during the stream; the target restarted and crashed during the copy,
 * an index build and the apply. Ferry waits for the server, resumes, and the cutover leaves identical databases.
 */
@Timeout(300)
class ServerRestartTest extends TwoServers {
    @Test
    void sourceRestartedFastDuringTheCopy() throws Exception {
        duringCopy("srcfast", source, "fast");
    }

    @Test
    void sourceCrashedDuringTheCopy() throws Exception {
        duringCopy("srccrash", source, "immediate");
    }

    @Test
    void targetRestartedFastDuringTheCopy() throws Exception {
        duringCopy("dstfast", target, "fast");
    }

    @Test
    void sourceRestartedFastThenCrashedDuringTheStream() throws Exception {
        duringStream("srcstream", source);
    }

    @Test
    void targetRestartedFastThenCrashedDuringTheApply() throws Exception {
        duringStream("dststream", target);
    }

    /** A partial expression index slow to build (about 6 s): the crash lands while the target builds it. */
    @Test
    void targetCrashedDuringAnIndexBuild() throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, "dstindex");
        source.execute("dstindex", "CREATE FUNCTION public.slow_key(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS "
                + "$$ BEGIN PERFORM pg_sleep(0.0002); RETURN t; END $$");
        try (FaultRun run = new FaultRun(migration, "target crashed (immediate) during an index build", 31)) {
            source.execute("dstindex", "CREATE INDEX bulk_1_slow ON public.bulk_1 (public.slow_key(payload)) WHERE id <= 5000");
            MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.COPY, 1));
            Deadline.await("the target to build bulk_1_slow", Duration.ofMinutes(2), () -> {
                agent.failIfDead();
                return "1".equals(target.queryValue("dstindex", "SELECT count(*) FROM pg_stat_activity "
                        + "WHERE state = 'active' AND query LIKE 'CREATE INDEX bulk_1_slow%' AND pid <> pg_backend_pid()"));
            });
            target.restart("immediate");
            run.awaitStreaming(() -> agent.outcome.get() == null);
            run.awaitRecovered(Duration.ofMinutes(2), () -> agent.outcome.get() == null);
            Deadline.await("bulk_1_slow to be built", Duration.ofSeconds(30), () -> "1".equals(target.queryValue("dstindex",
                    "SELECT count(*) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE i.relname = 'bulk_1_slow' AND x.indisvalid")));
            run.cutoverAndCompare();
            agent.awaitSummary(Duration.ofSeconds(30));
        }
    }

    private void duringCopy(String database, TestPostgres server, String mode) throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, database);
        String side = server == source ? "source" : "target";
        try (FaultRun run = new FaultRun(migration, side + " restarted (" + mode + ") during the copy", 29)) {
            MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.COPY, 1));
            run.awaitCopying(() -> agent.outcome.get() == null);
            server.restart(mode);
            if (server == source) run.replaceWriter();
            run.awaitStreaming(() -> agent.outcome.get() == null);
            run.awaitRecovered(Duration.ofMinutes(2), () -> agent.outcome.get() == null);
            run.cutoverAndCompare();
            agent.awaitSummary(Duration.ofSeconds(30));
        }
    }

    private void duringStream(String database, TestPostgres server) throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, database);
        String side = server == source ? "source" : "target";
        try (FaultRun run = new FaultRun(migration, side + " restarted (fast), then crashed (immediate), during the stream", 37)) {
            MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.COPY, 1));
            run.awaitStreaming(() -> agent.outcome.get() == null);
            for (String mode : new String[] {"fast", "immediate"}) {
                run.workload.awaitTransactions(run.workload.transactions() + 200, Duration.ofMinutes(1));
                server.restart(mode);
                if (server == source) run.replaceWriter();
                run.awaitRecovered(Duration.ofMinutes(2), () -> agent.outcome.get() == null);
            }
            run.cutoverAndCompare();
            agent.awaitSummary(Duration.ofSeconds(30));
        }
    }
}
