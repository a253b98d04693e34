package dev.ferry.agent.e2e;

import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.replication.Lsn;
import dev.ferry.testing.Deadline;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Connections cut under a running agent (as a network drop or a server restart would): it reconnects and converges. */
@Timeout(180)
class ConnectionLossTest {
    @Test
    void streamSurvivesLosingItsSourceAndTargetConnections() throws Exception {
        try (TestPostgres source = TestPostgres.start(); TestPostgres target = TestPostgres.start()) {
            MigrationFixture migration = new MigrationFixture(source, target, "dropped");
            String ddl = "CREATE TABLE public.t (id int PRIMARY KEY, v int)";
            source.execute("dropped", ddl, "INSERT INTO public.t SELECT g, 0 FROM generate_series(1, 100) g");
            target.execute("dropped", ddl);
            MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.EXISTING, 1));
            Deadline.await("streaming", Duration.ofSeconds(60), () -> {
                agent.failIfDead();
                return migration.state().filter(s -> s.phase() == MigrationState.Phase.STREAM && s.heartbeatAt().isPresent()).isPresent();
            });

            source.execute("dropped", "UPDATE public.t SET v = v + 1");
            source.execute("dropped", "SELECT pg_terminate_backend(pid) FROM pg_stat_replication");
            source.execute("dropped", "UPDATE public.t SET v = v + 1 WHERE id <= 50");
            awaitApplied(migration, source, agent);

            target.execute("dropped", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'ferry' AND pid <> pg_backend_pid()");
            source.execute("dropped", "UPDATE public.t SET v = v + 10 WHERE id > 50", "INSERT INTO public.t VALUES (1000, 1)");
            awaitApplied(migration, source, agent);

            migration.cutover(Duration.ofSeconds(60));
            agent.awaitSummary(Duration.ofSeconds(30));
            assertTrue(migration.compare().identical(), String.join("\n", migration.compare().differences()));
            assertTrue(migration.log("ferry.log").contains("lost a connection while streaming"), "the reconnect is logged");
        }
    }

    private static void awaitApplied(MigrationFixture migration, TestPostgres source, MigrationFixture.InProcessAgent agent) {
        Lsn now = Lsn.parse(source.queryValue("dropped", "SELECT pg_current_wal_insert_lsn()::text"));
        Deadline.await("the agent to apply past " + now, Duration.ofSeconds(60), () -> {
            agent.failIfDead();
            return migration.state().filter(s -> !s.appliedLsn().isBefore(now)).isPresent();
        });
    }
}
