package dev.ferry.agent.snapshot;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * How a compressed chunk stores its rows: settings (segmentby, orderby), sparse indexes, and its columns' types by
 * name; read alike on both servers (the SQL below, with the chunk as {@code c} and its compressed chunk as {@code z}),
 * so that the copy can tell whether the target's compressed chunk reads the source's batches as they are.
 */
record CompressedLayout(String settings, Set<String> sparse, Map<String, String> columns) {
    /**
     * The chunk's compression settings but the sparse indexes, one text to compare across servers (no segmentby stored
     * and an empty one mean the same); null without a settings row.
     */
    static final String SETTINGS = "(SELECT concat_ws(' | ', coalesce(cs.segmentby, '{}')::text, coalesce(cs.orderby, '{}')::text,"
            + " coalesce(cs.orderby_desc, '{}')::text, coalesce(cs.orderby_nullsfirst, '{}')::text)"
            + " FROM _timescaledb_catalog.compression_settings cs WHERE cs.relid = format('%I.%I', c.schema_name, c.table_name)::regclass)";
    /** The chunk's sparse indexes, each without why it was made ({@code source}: default, configured, orderby). */
    static final String SPARSE = "(SELECT array_agg((e - 'source')::text ORDER BY (e - 'source')::text)"
            + " FROM _timescaledb_catalog.compression_settings cs, jsonb_array_elements(coalesce(cs.index, '[]')) e"
            + " WHERE cs.relid = format('%I.%I', c.schema_name, c.table_name)::regclass)";
    /** The compressed chunk's columns' names and types, in column order. */
    static final String COLUMNS = "(SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a"
            + " WHERE a.attrelid = format('%I.%I', z.schema_name, z.table_name)::regclass AND a.attnum > 0 AND NOT a.attisdropped)";
    static final String TYPES = "(SELECT array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum) FROM pg_attribute a"
            + " WHERE a.attrelid = format('%I.%I', z.schema_name, z.table_name)::regclass AND a.attnum > 0 AND NOT a.attisdropped)";

    /** Reads the four columns SETTINGS, SPARSE, COLUMNS, TYPES starting at {@code from}. */
    static CompressedLayout read(ResultSet rs, int from) throws SQLException {
        java.sql.Array sparse = rs.getArray(from + 1), names = rs.getArray(from + 2), types = rs.getArray(from + 3);
        Map<String, String> columns = new LinkedHashMap<>();
        if (names != null) {
            String[] n = (String[]) names.getArray(), t = (String[]) types.getArray();
            for (int i = 0; i < n.length; i++) columns.put(n[i], t[i]);
        }
        return new CompressedLayout(rs.getString(from), sparse == null ? Set.of() : Set.of((String[]) sparse.getArray()), columns);
    }

    /**
     * Whether this (the target's) compressed chunk reads rows stored as {@code source} stores them exactly: the same
     * segmentby and orderby, and every column and sparse index it has is the source's too. A sparse index only the
     * source has (TimescaleDB picks bloom indexes from the hypertable's indexes when a chunk is compressed, and the
     * target's plain indexes are built after the copy) is a column the target never reads, left behind. One only the
     * target has (an index made on the source after the chunk was compressed) sends the chunk the decompressed way.
     */
    boolean reads(CompressedLayout source) {
        return settings != null && settings.equals(source.settings) && source.sparse.containsAll(sparse)
                && source.columns.entrySet().containsAll(columns.entrySet());
    }

    @Override
    public String toString() {
        return "settings " + settings + ", sparse indexes " + sparse + ", columns " + columns;
    }
}
