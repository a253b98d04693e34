package dev.ferry.agent.source;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.config.ConnectionSpec;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.db.Database;
import dev.ferry.replication.slot.CreatedSlot;
import dev.ferry.replication.slot.ReplicationSlots;
import dev.ferry.replication.slot.SlotName;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The migration's slot on a real source, through its one owner: created with an exported snapshot over the one way
 * ferry opens a replication connection, required on resume, a leftover dropped unless something reads it, the
 * re-copy's slot gone with its connection. Each test uses its own slot name on one server.
 */
@Timeout(60)
class MigrationSlotTest {
    private static TestPostgres server;
    private static Database source;

    @TempDir
    static Path logDir;

    @BeforeAll
    static void start() {
        server = TestPostgres.start();
        source = new Database(ConnectionSpec.parse("source", server.uri("postgres")), "source");
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    private static MigrationSlot slot(String name) {
        MigrationConfig config = new MigrationConfig(ConnectionSpec.parse("source", server.uri("postgres")), ConnectionSpec.parse("target", server.uri("unused_target")),
                1, logDir, logDir.resolve("work"), MigrationConfig.SchemaMode.COPY, MigrationConfig.NumericNanInf.KEEP, name, Set.of(), Set.of(), 0,
                Duration.ofSeconds(1));
        return new MigrationSlot(config, source);
    }

    @Test
    void createdSlotOutlivesItsConnectionUntilDropped() throws Exception {
        MigrationSlot slot = slot("ferry_created");
        try (Connection replication = ReplicationConnections.open(source)) {
            CreatedSlot created = slot.create(replication, server.major());
            assertFalse(created.snapshotName().isBlank(), "the copy needs the exported snapshot");
        }
        try (Connection src = source.open()) {
            assertTrue(slot.exists(src));
            slot.require();
            slot.drop(src, Duration.ofSeconds(10));
            assertFalse(slot.exists(src));
            slot.drop(src, Duration.ofSeconds(10)); // already gone: nothing to do
        }
    }

    @Test
    void requireSaysHowToStartOverWhenTheSlotIsGone() {
        FerryException gone = assertThrows(FerryException.class, () -> slot("ferry_never_created").require());
        assertEquals("replication slot ferry_never_created is gone from the source.", gone.what());
        assertTrue(gone.fix().contains("--restart-copy"), gone.fix());
        assertEquals(ExitCode.FAILED, gone.exitCode());
    }

    @Test
    void leftoverSlotIsDroppedUnlessSomethingReadsIt() throws Exception {
        MigrationSlot slot = slot("ferry_leftover");
        try (Connection reader = ReplicationConnections.open(source); Connection src = source.open()) {
            // A temporary slot is active as long as the session that made it: another reader of this name.
            ReplicationSlots.create(reader, slot.name(), true, server.major());
            FerryException inUse = assertThrows(FerryException.class, () -> slot.dropLeftover(src));
            assertEquals("replication slot ferry_leftover already exists on the source and is in use.", inUse.what());
            assertEquals(ExitCode.BAD_INPUT, inUse.exitCode());
            assertTrue(slot.exists(src), "a slot in use is left alone");
        }
        try (Connection replication = ReplicationConnections.open(source)) {
            ReplicationSlots.create(replication, slot.name(), false, server.major());
        }
        try (Connection src = source.open()) {
            slot.dropLeftover(src);
            assertFalse(slot.exists(src));
        }
    }

    @Test
    void recopySlotGoesWithItsConnection() throws Exception {
        MigrationSlot slot = slot("ferry_recopy");
        SlotName resync = new SlotName("ferry_recopy_resync");
        try (Connection replication = ReplicationConnections.open(source); Connection src = source.open()) {
            slot.createForRecopy(replication, server.major());
            assertTrue(ReplicationSlots.exists(src, resync));
            assertFalse(slot.exists(src), "the migration's own slot is not touched");
        }
        try (Connection src = source.open()) {
            assertFalse(ReplicationSlots.exists(src, resync));
        }
    }
}
