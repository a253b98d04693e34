package dev.ferry.agent.snapshot;

import dev.ferry.agent.config.MigrationConfig.SchemaMode;
import dev.ferry.agent.db.PhysicalTable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * The cheapest faithful way to move rows between the two servers at hand. Binary COPY skips turning every value
 * into text on the source and parsing it back on the target (a fifth of the copy's CPU on numeric and timestamp
 * columns, and half the bytes of a bytea); it is exact only when both servers have one major version and every
 * column has a built-in type, and when ferry built the target's columns itself, so their types are the source's.
 * TOASTed values are compressed with lz4 instead of the slower pglz where the target has it (PostgreSQL 14+): a
 * column with its own {@code SET COMPRESSION} keeps it, and values read back the same either way.
 * <p>
 * A chunk that holds a whole table is loaded with {@code FREEZE} into the table it has just emptied, in one
 * transaction: its rows are written already frozen and visible to all, with the pages marked so in the visibility
 * map. Otherwise the first index build (and later every vacuum, and an anti-wraparound one in full) reads and writes
 * the whole table again just to mark what is already true. Only where ferry built the tables: a table of the user's
 * own may be referenced by a foreign key, and then cannot be truncated.
 */
final class CopyFormat {
    private static final Logger log = LoggerFactory.getLogger("ferry.snapshot");

    private final boolean binaryAllowed;
    private final boolean freezeAllowed;

    private CopyFormat(boolean binaryAllowed, boolean freezeAllowed) {
        this.binaryAllowed = binaryAllowed;
        this.freezeAllowed = freezeAllowed;
    }

    static CopyFormat between(int sourceMajor, int targetMajor, SchemaMode schemaMode) {
        boolean ferryBuiltTables = schemaMode == SchemaMode.COPY;
        return new CopyFormat(sourceMajor == targetMajor && ferryBuiltTables, ferryBuiltTables);
    }

    /** The same format, never emptying a table nor loading it with FREEZE. */
    CopyFormat withoutFreeze() {
        return new CopyFormat(binaryAllowed, false);
    }

    /**
     * Whether the chunk's transaction empties its table first and loads it frozen: a whole table only, and not a
     * hypertable, whose rows go into chunks TimescaleDB creates (FREEZE applies to the table COPY names).
     */
    boolean freezes(CopyChunk chunk) {
        return freezeAllowed && chunk.count() == 1 && !chunk.table().hypertable();
    }

    /** The options of the source's {@code COPY ... TO STDOUT}: binary, or PostgreSQL's default text format. */
    String readOptions(PhysicalTable table) {
        return binary(table) ? " (FORMAT binary)" : "";
    }

    /** The options of the target's {@code COPY ... FROM STDIN}, in the same format as the read. */
    String writeOptions(CopyChunk chunk) {
        boolean freeze = freezes(chunk);
        if (binary(chunk.table())) return freeze ? " (FORMAT binary, FREEZE)" : " (FORMAT binary)";
        return freeze ? " (FREEZE)" : "";
    }

    private boolean binary(PhysicalTable table) {
        return binaryAllowed && table.builtinTypes();
    }

    /** Makes {@code target}'s session compress new TOAST values with lz4 when the server supports it. */
    static void preferLz4(Connection target) throws SQLException {
        try (Statement s = target.createStatement();
             ResultSet rs = s.executeQuery("SELECT 'lz4' = ANY (enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")) {
            if (!rs.next() || !rs.getBoolean(1)) {
                log.debug("the target has no lz4 TOAST compression; values are compressed with its default");
                return;
            }
        }
        try (Statement s = target.createStatement()) {
            s.execute("SET default_toast_compression = lz4");
        }
    }
}
