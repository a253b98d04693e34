package dev.ferry.agent.state;

import dev.ferry.agent.name.QualifiedName;
import dev.ferry.agent.state.MigrationState.Phase;
import dev.ferry.replication.Lsn;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;

import java.sql.Connection;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ferry's state on a real target, method by method as the agent, `ferry cutover` and `ferry status` use it: a migration
 * begun and resumed, its phases, the applied LSN (which never moves backwards: it is what the slot is confirmed to), the
 * heartbeat that carries a cutover request to the agent, the copy's progress, and the end. Each test has its own
 * database on one server.
 */
@Timeout(60)
class StateStoreTest {
    private static final Lsn START = Lsn.parse("0/1000028");
    private static final String SLOT = "ferry_test";
    private static TestPostgres target;

    private final StateStore state = new StateStore();
    private String database;

    @BeforeAll
    static void start() {
        target = TestPostgres.start();
    }

    @AfterAll
    static void stop() {
        if (target != null) target.close();
    }

    @BeforeEach
    void freshDatabase(TestInfo test) {
        database = target.createDatabase(test.getTestMethod().orElseThrow().getName().toLowerCase());
    }

    @Test
    void noStateUntilInstalledAndBegun() throws Exception {
        try (Connection c = target.connect(database)) {
            assertFalse(state.installed(c));
            assertEquals(Optional.empty(), state.load(c));
            state.install(c);
            state.install(c); // idempotent: every resumed agent runs it
            assertTrue(state.installed(c));
            assertEquals(Optional.empty(), state.load(c));
        }
    }

    @Test
    void beginRecordsTheSlotAndStartsAppliedAtTheConsistentPoint() throws Exception {
        try (Connection c = target.connect(database)) {
            state.install(c);
            state.begin(c, SLOT, "postgres://app@source/app", START);
            MigrationState begun = state.load(c).orElseThrow();
            assertEquals(SLOT, begun.slotName());
            assertEquals(Phase.SCHEMA, begun.phase());
            assertEquals(START, begun.consistentLsn());
            assertEquals(START, begun.appliedLsn());
            assertEquals(Optional.empty(), begun.cutoverLsn());
            assertEquals(Optional.empty(), begun.summary());

            // An abandoned attempt's record and progress are replaced, not added to.
            state.recordChunk(c, new QualifiedName("public", "t"), 0, 1, START, 10, 100, 0.1);
            Lsn later = Lsn.parse("0/2000000");
            state.begin(c, SLOT, "postgres://app@source/app", later);
            assertEquals(later, state.load(c).orElseThrow().consistentLsn());
            assertEquals(Map.of(), state.copiedTables(c));
        }
    }

    @Test
    void resumedAgentRecordsItselfAndClearsThePreviousError() throws Exception {
        try (Connection c = target.connect(database)) {
            state.install(c);
            state.begin(c, SLOT, "postgres://app@source/app", START);
            state.setPhase(c, Phase.COPY);
            state.recordAgentError(c, "copy of \"public\".\"t\" failed");
            assertEquals(Optional.of("copy of \"public\".\"t\" failed"), state.load(c).orElseThrow().agentError());

            AgentIdentity agent = new AgentIdentity("host-b", 4242, Optional.of(Instant.parse("2026-01-02T03:04:05Z")));
            state.install(c); // a resumed agent installs again before it records itself
            state.recordAgent(c, agent);
            MigrationState resumed = state.load(c).orElseThrow();
            assertEquals(Phase.COPY, resumed.phase());
            assertEquals(Optional.of(agent), resumed.agent());
            assertEquals(Optional.empty(), resumed.agentError());
        }
    }

    @Test
    void appliedLsnNeverMovesBackwards() throws Exception {
        Lsn first = Lsn.parse("0/3000000");
        Lsn second = Lsn.parse("0/3000100");
        try (Connection c = target.connect(database)) {
            state.install(c);
            state.begin(c, SLOT, "postgres://app@source/app", START);
            state.recordApplied(c, second);
            state.recordApplied(c, first); // a transaction replayed after a reconnect
            assertEquals(second, state.load(c).orElseThrow().appliedLsn());

            state.heartbeat(c, first); // a heartbeat carrying an older position
            assertEquals(second, state.load(c).orElseThrow().appliedLsn());
            state.heartbeat(c, Lsn.parse("1/0")); // across the 4 GB boundary: compared as pg_lsn, not as text
            assertEquals(Lsn.parse("1/0"), state.load(c).orElseThrow().appliedLsn());
        }
    }

    @Test
    void heartbeatCarriesTheCutoverRequestToTheAgent() throws Exception {
        Lsn drainTo = Lsn.parse("0/5000000");
        try (Connection c = target.connect(database)) {
            state.install(c);
            state.begin(c, SLOT, "postgres://app@source/app", START);
            assertEquals(Optional.empty(), state.heartbeat(c, START));
            assertTrue(state.load(c).orElseThrow().heartbeatAt().isPresent());

            state.requestCutover(c, drainTo);
            assertEquals(Optional.of(drainTo), state.heartbeat(c, START));

            // `ferry cutover` gives up only its own request; a newer one stays.
            state.withdrawCutover(c, Lsn.parse("0/4000000"));
            assertEquals(Optional.of(drainTo), state.heartbeat(c, START));
            state.withdrawCutover(c, drainTo);
            assertEquals(Optional.empty(), state.heartbeat(c, START));

            // The agent refuses a cutover: the waiting command reads why, and a new request clears it.
            state.requestCutover(c, drainTo);
            state.failCutover(c, "row counts differ");
            MigrationState refused = state.load(c).orElseThrow();
            assertEquals(Optional.of("row counts differ"), refused.cutoverError());
            assertEquals(Optional.empty(), refused.cutoverLsn());
            state.requestCutover(c, drainTo);
            assertEquals(Optional.empty(), state.load(c).orElseThrow().cutoverError());
        }
    }

    @Test
    void aTableCountsAsCopiedOnceEveryChunkIsRecorded() throws Exception {
        QualifiedName orders = new QualifiedName("public", "orders");
        QualifiedName events = new QualifiedName("app", "Event Log");
        try (Connection c = target.connect(database)) {
            target.execute(database, "CREATE SCHEMA app", "CREATE TABLE app.\"Event Log\" (id int)", "CREATE TABLE public.orders (id int)");
            state.install(c);
            state.begin(c, SLOT, "postgres://app@source/app", START);
            state.recordPlan(c, Map.of(orders, new StateStore.PlannedTable(2, 8192), events, new StateStore.PlannedTable(1, 4096),
                    new QualifiedName("public", "dropped"), new StateStore.PlannedTable(1, 10)));
            state.recordChunk(c, orders, 0, 2, Lsn.parse("0/1000100"), 5, 50, 0.5);
            state.recordChunk(c, events, 0, 1, START, 7, 70, 0.2);
            assertEquals(Map.of(events, START), state.copiedTables(c));

            state.recordChunk(c, orders, 1, 2, Lsn.parse("0/1000200"), 6, 60, 0.5);
            assertEquals(Map.of(events, START, orders, Lsn.parse("0/1000200")), state.copiedTables(c), "the latest chunk's LSN is the table's");
            assertEquals(new StateStore.CopyTotals(2, 18, 180), state.copyTotals(c));
            StateStore.CopyStatus status = state.copyStatus(c).orElseThrow();
            assertEquals(3, status.tables());
            assertEquals(2, status.tablesDone());

            // What --restart-copy may empty: planned or copied, and still there.
            assertEquals(List.of(events, orders), state.tablesPlannedOrCopied(c));

            state.forgetTable(c, orders);
            assertEquals(Map.of(events, START), state.copiedTables(c));
        }
    }

    @Test
    void finishRecordsTheSummaryAndRemoveLeavesNoState() throws Exception {
        try (Connection c = target.connect(database)) {
            state.install(c);
            state.begin(c, SLOT, "postgres://app@source/app", START);
            assertTrue(state.secondsSinceStart(c) >= 0);
            state.finish(c, "migration finished\n  tables      1");
            MigrationState done = state.load(c).orElseThrow();
            assertEquals(Phase.DONE, done.phase());
            assertEquals(Optional.of("migration finished\n  tables      1"), done.summary());

            state.remove(c);
            assertFalse(state.installed(c));
            assertEquals(Optional.empty(), state.load(c));
            state.remove(c); // nothing left to remove is not an error
        }
    }
}
