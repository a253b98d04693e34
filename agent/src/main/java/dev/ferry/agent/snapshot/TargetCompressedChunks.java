package dev.ferry.agent.snapshot;

import dev.ferry.agent.name.QualifiedName;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The target's side of {@link CompressedChunkCopy}: makes the chunks of one copy unit with the source chunks' slices,
 * compresses the empty ones that will take the source's batches, and reads how each compressed chunk stores rows. One
 * statement per step for all the unit's chunks, not one per chunk: a unit of a space-partitioned hypertable holds a
 * chunk per partition, and each round trip happened while TimescaleDB's lock on the hypertable kept the other copy
 * workers from making their chunks (bench timescale shape: 31 waits of 10 to 70 ms in one copy). Owned by one copy
 * worker thread.
 */
final class TargetCompressedChunks {
    /** Per compressed chunk: whether every column's type has binary send and receive (a bloom sparse index has none). */
    private static final String BINARY_IO = "(SELECT bool_and(t.typsend <> 0 AND t.typreceive <> 0) FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
            + " WHERE a.attrelid = format('%I.%I', z.schema_name, z.table_name)::regclass AND a.attnum > 0 AND NOT a.attisdropped)";

    private static final String CREATE = """
            SELECT format('%I.%I', c.schema_name, c.table_name), c.created
            FROM unnest(?::text[]) WITH ORDINALITY AS u(slices, n)
            CROSS JOIN LATERAL _timescaledb_functions.create_chunk(?::regclass, u.slices::jsonb) c
            ORDER BY u.n""";

    private static final String COMPRESSED = String.format("""
            SELECT format('%%I.%%I', c.schema_name, c.table_name), format('%%I.%%I', z.schema_name, z.table_name), %s, %s, %s, %s, %s
            FROM _timescaledb_catalog.chunk c JOIN _timescaledb_catalog.chunk z ON z.id = c.compressed_chunk_id
            WHERE format('%%I.%%I', c.schema_name, c.table_name) = ANY (?::text[])""",
            CompressedLayout.SETTINGS, CompressedLayout.SPARSE, CompressedLayout.COLUMNS, CompressedLayout.TYPES, BINARY_IO);

    /** A chunk made on the target: its name, and whether this call made it (false: it was there already). */
    record Made(String name, boolean created) {}

    /** The target's compressed chunk of a chunk: its name, how it stores rows, and whether COPY may use binary for it. */
    record Compressed(String name, CompressedLayout layout, boolean binaryIo) {
        /** Its columns by name, as a COPY column list: a sparse index column only the source has stays behind. */
        String columnList() {
            return " (" + String.join(", ", layout.columns().keySet().stream().map(QualifiedName::quote).toList()) + ")";
        }
    }

    private final Connection target;

    TargetCompressedChunks(Connection target) {
        this.target = target;
    }

    /** Makes (or finds) the chunks with these slices, in their order; does not commit. */
    List<Made> make(QualifiedName hypertable, List<String> slices) throws SQLException {
        List<Made> made = new ArrayList<>();
        if (slices.isEmpty()) return made;
        try (PreparedStatement s = target.prepareStatement(CREATE)) {
            s.setArray(1, target.createArrayOf("text", slices.toArray()));
            s.setString(2, hypertable.toString());
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) made.add(new Made(rs.getString(1), rs.getBoolean(2)));
            }
        }
        return made;
    }

    /**
     * Compresses these (empty) chunks, so the target's TimescaleDB makes their compressed chunks with its own layout,
     * settings and indexes; returns each chunk's compressed chunk. Does not commit.
     */
    Map<String, Compressed> compressEmpty(List<String> chunks) throws SQLException {
        Map<String, Compressed> compressed = new HashMap<>();
        if (chunks.isEmpty()) return compressed;
        java.sql.Array names = target.createArrayOf("text", chunks.toArray());
        try (Statement s = target.createStatement()) {
            // The chunks are empty: nothing to delete instead, and a TRUNCATE would swap every file of the chunk and its
            // indexes for new ones (a third of compress_chunk's time on an empty chunk, 2.25.2). Until the commit; a
            // TimescaleDB without the setting truncates.
            s.execute("SELECT set_config(name, 'truncate_disabled', true) FROM pg_settings WHERE name = 'timescaledb.compress_truncate_behaviour'");
        }
        try (PreparedStatement s = target.prepareStatement("SELECT count(public.compress_chunk(x::regclass)) FROM unnest(?::text[]) x")) {
            s.setArray(1, names);
            s.execute();
        }
        try (PreparedStatement s = target.prepareStatement(COMPRESSED)) {
            s.setArray(1, names);
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) compressed.put(rs.getString(1), new Compressed(rs.getString(2), CompressedLayout.read(rs, 3), rs.getBoolean(7)));
            }
        }
        return compressed;
    }

    /** Decompresses an empty chunk compressed by {@link #compressEmpty} whose batches the source's cannot fill. */
    void decompress(String chunk) throws SQLException {
        try (Statement s = target.createStatement()) {
            s.execute("SELECT public.decompress_chunk(" + QualifiedName.literal(chunk) + "::regclass, if_compressed => true)");
        }
    }
}
