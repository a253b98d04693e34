package dev.ferry.agent.snapshot;

import dev.ferry.agent.config.MigrationConfig.SchemaMode;
import dev.ferry.agent.db.PhysicalTable;
import dev.ferry.agent.name.QualifiedName;
import dev.ferry.testing.DebianPostgres;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

@Timeout(120)
class CopyFormatTest {
    private static PhysicalTable table(boolean builtinTypes) {
        return new PhysicalTable(new QualifiedName("public", "t"), List.of("id"), Set.of(), 8192, 8192, builtinTypes);
    }

    @Test
    void binaryOnlyBetweenOneMajorVersionIntoColumnsFerryCreated() {
        assertEquals(" (FORMAT binary)", CopyFormat.between(15, 15, SchemaMode.COPY).readOptions(table(true)));
        assertEquals("", CopyFormat.between(15, 15, SchemaMode.COPY).readOptions(table(false)), "a user-defined type goes as text");
        assertEquals("", CopyFormat.between(13, 15, SchemaMode.COPY).readOptions(table(true)), "across major versions: text");
        assertEquals("", CopyFormat.between(15, 15, SchemaMode.EXISTING).readOptions(table(true)), "a target schema built by the user: text");
    }

    @Test
    void onlyAWholeTableInTablesFerryBuiltIsLoadedFrozen() {
        PhysicalTable table = table(true);
        CopyChunk whole = new CopyChunk(table, 0, 1, OptionalLong.empty(), OptionalLong.empty());
        CopyChunk part = new CopyChunk(table, 1, 4, OptionalLong.of(10), OptionalLong.of(20));
        CopyFormat built = CopyFormat.between(15, 15, SchemaMode.COPY);
        assertTrue(built.freezes(whole));
        assertEquals(" (FORMAT binary, FREEZE)", built.writeOptions(whole));
        assertFalse(built.freezes(part), "one range of a split table: the other ranges load in other transactions");
        assertEquals(" (FORMAT binary)", built.writeOptions(part));
        assertEquals(" (FREEZE)", CopyFormat.between(13, 15, SchemaMode.COPY).writeOptions(whole), "text format, still frozen");
        CopyFormat users = CopyFormat.between(15, 15, SchemaMode.EXISTING);
        assertFalse(users.freezes(whole), "a table of the user's own may be referenced by a foreign key, so it is never truncated");
        assertEquals("", users.writeOptions(whole));
    }

    @Test
    void toastValuesAreCompressedWithLz4WhereTheTargetHasIt() throws Exception {
        assumeTrue(DebianPostgres.available(), "Debian's postgresql-15 (built with lz4) is not installed");
        try (DebianPostgres server = DebianPostgres.start(Map.of());
             Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + server.port() + "/postgres?user=postgres")) {
            assertEquals("lz4", compressionAfterPreferLz4(c));
        }
    }

    @Test
    void aTargetWithoutLz4KeepsItsDefault() throws Exception {
        try (TestPostgres server = TestPostgres.start();
             Connection c = DriverManager.getConnection(server.jdbcUrl("postgres"))) {
            boolean lz4 = false;
            try (Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT 'lz4' = ANY (enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")) {
                rs.next();
                lz4 = rs.getBoolean(1);
            }
            assertEquals(lz4 ? "lz4" : "pglz", compressionAfterPreferLz4(c));
        }
    }

    private static String compressionAfterPreferLz4(Connection c) throws Exception {
        try (Statement s = c.createStatement()) {
            s.execute("CREATE TABLE docs (body text)");
            CopyFormat.preferLz4(c);
            s.execute("INSERT INTO docs SELECT repeat(md5('x'), 1000)");
            try (ResultSet rs = s.executeQuery("SELECT pg_column_compression(body) FROM docs")) {
                rs.next();
                return rs.getString(1);
            }
        }
    }
}
