package dev.ferry.agent.snapshot;

import dev.ferry.agent.config.MigrationConfig.NumericNanInf;
import dev.ferry.agent.name.QualifiedName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Copies a hypertable's compressed chunks in their compressed form instead of reading them back decompressed: the
 * target gets a chunk with the source chunk's exact slices ({@code create_chunk}), compressed while still empty so
 * that its own TimescaleDB makes the compressed chunk (layout, settings, indexes), and the source's compressed rows are
 * then copied into it as they are. Rows a partly compressed chunk holds uncompressed follow through the hypertable, so
 * the target's chunk ends partial like the source's. Used for a chunk only when the target reads the source's batches
 * exactly ({@link Layout#reads}): the same segmentby and orderby, and every column (name and type) and sparse index of
 * the target's compressed chunk also on the source's; otherwise that chunk's rows are copied decompressed, as without
 * this class, and {@link ChunkCompression} compresses it after the copy. The target's chunks are made (and compressed
 * while empty) in a short transaction of their own before the unit's ({@link #prepare}): TimescaleDB holds a
 * {@code SHARE UPDATE EXCLUSIVE} lock on the hypertable from a chunk's creation until the commit, so chunks made inside
 * the unit's transaction let one worker at a time copy into a hypertable. The rows then go in the copy worker's target
 * transaction with the unit's progress row, so a crash leaves the range's rows either all copied or none (empty chunks
 * at most, which the resumed copy's truncation of the hypertable drops). Owned by one copy worker thread.
 */
final class CompressedChunkCopy {
    private static final Logger log = LoggerFactory.getLogger("ferry.snapshot");

    /**
     * Per chunk: its compression settings but the sparse indexes, one text to compare across servers (no segmentby
     * stored and an empty one mean the same); null without a settings row.
     */
    private static final String SETTINGS = "(SELECT concat_ws(' | ', coalesce(cs.segmentby, '{}')::text, coalesce(cs.orderby, '{}')::text,"
            + " coalesce(cs.orderby_desc, '{}')::text, coalesce(cs.orderby_nullsfirst, '{}')::text)"
            + " FROM _timescaledb_catalog.compression_settings cs WHERE cs.relid = format('%I.%I', c.schema_name, c.table_name)::regclass)";
    /** Per chunk: its sparse indexes, each without why it was made ({@code source}: default, configured, orderby). */
    private static final String SPARSE = "(SELECT array_agg((e - 'source')::text ORDER BY (e - 'source')::text)"
            + " FROM _timescaledb_catalog.compression_settings cs, jsonb_array_elements(coalesce(cs.index, '[]')) e"
            + " WHERE cs.relid = format('%I.%I', c.schema_name, c.table_name)::regclass)";
    /** Per compressed chunk: its columns' names and types, in column order. */
    private static final String COLUMNS = "(SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a"
            + " WHERE a.attrelid = format('%I.%I', z.schema_name, z.table_name)::regclass AND a.attnum > 0 AND NOT a.attisdropped)";
    private static final String TYPES = "(SELECT array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum) FROM pg_attribute a"
            + " WHERE a.attrelid = format('%I.%I', z.schema_name, z.table_name)::regclass AND a.attnum > 0 AND NOT a.attisdropped)";

    /**
     * The source's chunks of one hypertable in the snapshot, with the start of their primary dimension's slice named as
     * the dimension's column, so that the copy unit's own WHERE clause picks those of its range. {@code %s}: the start
     * expression and its column name.
     */
    private static final String SOURCE_CHUNKS = """
            SELECT ferry_chunk, ferry_compressed, ferry_slices, ferry_settings, ferry_sparse, ferry_columns, ferry_types, ferry_readable FROM (
              SELECT format('%%I.%%I', c.schema_name, c.table_name) AS ferry_chunk,
                     CASE WHEN z.id IS NULL THEN NULL ELSE format('%%I.%%I', z.schema_name, z.table_name) END AS ferry_compressed,
                     (SELECT jsonb_object_agg(d.column_name, jsonb_build_array(s.range_start, s.range_end))::text
                      FROM _timescaledb_catalog.chunk_constraint cc JOIN _timescaledb_catalog.dimension_slice s ON s.id = cc.dimension_slice_id
                      JOIN _timescaledb_catalog.dimension d ON d.id = s.dimension_id WHERE cc.chunk_id = c.id) AS ferry_slices,
                     CASE WHEN z.id IS NULL THEN NULL ELSE %s END AS ferry_settings,
                     CASE WHEN z.id IS NULL THEN NULL ELSE %s END AS ferry_sparse,
                     CASE WHEN z.id IS NULL THEN NULL ELSE %s END AS ferry_columns,
                     CASE WHEN z.id IS NULL THEN NULL ELSE %s END AS ferry_types,
                     z.id IS NULL OR has_table_privilege(format('%%I.%%I', z.schema_name, z.table_name), 'SELECT') AS ferry_readable,
                     %s AS %s
              FROM _timescaledb_catalog.hypertable h
              JOIN _timescaledb_catalog.chunk c ON c.hypertable_id = h.id AND NOT c.dropped
              JOIN _timescaledb_catalog.dimension pd ON pd.id = (SELECT min(id) FROM _timescaledb_catalog.dimension WHERE hypertable_id = h.id)
              JOIN _timescaledb_catalog.chunk_constraint pcc ON pcc.chunk_id = c.id
              JOIN _timescaledb_catalog.dimension_slice ps ON ps.id = pcc.dimension_slice_id AND ps.dimension_id = pd.id
              LEFT JOIN _timescaledb_catalog.chunk z ON z.id = c.compressed_chunk_id
              WHERE h.schema_name = ? AND h.table_name = ?) chunks%s
            ORDER BY ferry_chunk""";

    private static final String PRIMARY_TYPE = """
            SELECT d.column_type::regtype::text FROM _timescaledb_catalog.hypertable h
            JOIN _timescaledb_catalog.dimension d ON d.id = (SELECT min(id) FROM _timescaledb_catalog.dimension WHERE hypertable_id = h.id)
            WHERE h.schema_name = ? AND h.table_name = ?""";

    private static final String TARGET_COMPRESSED = String.format("""
            SELECT format('%%I.%%I', z.schema_name, z.table_name), %s, %s, %s, %s
            FROM _timescaledb_catalog.chunk c JOIN _timescaledb_catalog.chunk z ON z.id = c.compressed_chunk_id
            WHERE c.schema_name = ? AND c.table_name = ?""", SETTINGS, SPARSE, COLUMNS, TYPES);

    /** Streams one COPY out of the source into one COPY on the target; returns rows and bytes. */
    interface Pipe {
        long[] copy(String copyOut, String copyIn) throws SQLException, IOException;
    }

    /**
     * How a compressed chunk stores its rows: settings (segmentby, orderby), sparse indexes, and its columns' types by
     * name.
     */
    record Layout(String settings, Set<String> sparse, Map<String, String> columns) {
        static Layout read(ResultSet rs, int from) throws SQLException {
            java.sql.Array sparse = rs.getArray(from + 1), names = rs.getArray(from + 2), types = rs.getArray(from + 3);
            Map<String, String> columns = new LinkedHashMap<>();
            if (names != null) {
                String[] n = (String[]) names.getArray(), t = (String[]) types.getArray();
                for (int i = 0; i < n.length; i++) columns.put(n[i], t[i]);
            }
            return new Layout(rs.getString(from), sparse == null ? Set.of() : Set.of((String[]) sparse.getArray()), columns);
        }

        /**
         * Whether this (the target's) compressed chunk reads rows stored as {@code source} stores them exactly: the same
         * segmentby and orderby, and every column and sparse index it has is the source's too. A sparse index only
         * the source has (TimescaleDB picks bloom indexes from the hypertable's indexes when a chunk is compressed, and
         * the target's plain indexes are built after the copy) is a column the target never reads, left behind. One
         * only the target has (an index made on the source after the chunk was compressed) sends the chunk the
         * decompressed way.
         */
        boolean reads(Layout source) {
            return settings != null && settings.equals(source.settings) && source.sparse.containsAll(sparse)
                    && source.columns.entrySet().containsAll(columns.entrySet());
        }

        @Override
        public String toString() {
            return "settings " + settings + ", sparse indexes " + sparse + ", columns " + columns;
        }
    }

    record SourceChunk(String name, Optional<String> compressed, String slices, Layout layout, boolean readable) {}

    private final Connection source;
    private final Connection target;
    private final CopyFormat format;
    private final NumericNanInf numericNanInf;
    /** Hypertables already told about in the log, so a fallback's reason is logged once per worker, not per chunk. */
    private final Set<QualifiedName> explained = new HashSet<>();
    private final Map<QualifiedName, String> startExpressions = new HashMap<>();

    CompressedChunkCopy(Connection source, Connection target, CopyFormat format, NumericNanInf numericNanInf) {
        this.source = source;
        this.target = target;
        this.format = format;
        this.numericNanInf = numericNanInf;
    }

    /**
     * What the unit's transaction does with each source chunk of its range: {@code into} names the target's compressed
     * chunk (made, compressed while empty and committed by {@link #prepare}) and how it stores rows, when the source's
     * batches are copied into it; empty when the chunk's rows go through the hypertable decompressed.
     */
    record Prepared(List<Map.Entry<SourceChunk, Optional<Map.Entry<String, Layout>>>> chunks) {}

    /**
     * Makes on the target, and commits, every chunk that starts in {@code unit}'s range with the source chunk's slices,
     * compressed while empty where the source's is compressed and the target will read its batches; returns what the
     * unit's transaction copies chunk by chunk, or empty when the range holds no chunk to copy in compressed form and
     * goes through the hypertable whole.
     */
    Optional<Prepared> prepare(CopyChunk unit) throws SQLException {
        if (!unit.table().hypertable()) return Optional.empty();
        // NULL for NaN rewrites values, which compressed batches do not let us do.
        boolean compressedForm = numericNanInf != NumericNanInf.NULL || unit.table().numericColumns().isEmpty();
        List<Map.Entry<SourceChunk, Optional<Map.Entry<String, Layout>>>> chunks = new ArrayList<>();
        for (SourceChunk chunk : sourceChunks(unit)) {
            boolean compressed = compressedForm && chunk.compressed().isPresent();
            chunks.add(Map.entry(chunk, chunkOnTarget(unit, chunk, compressed && chunk.readable())));
        }
        target.commit();
        return compressedForm && chunks.stream().anyMatch(c -> c.getKey().compressed().isPresent()) ? Optional.of(new Prepared(chunks)) : Optional.empty();
    }

    /**
     * Copies the source chunks {@link #prepare} listed one by one, compressed ones in compressed form, in the target's
     * open transaction; returns rows (compressed rows counted as the rows they hold) and bytes.
     */
    long[] copy(CopyChunk unit, Prepared prepared, Pipe pipe) throws SQLException, IOException {
        long rows = 0, bytes = 0;
        String hypertable = unit.table().name().toString();
        String columns = unit.table().copyColumns();
        String select = String.join(", ", unit.table().columns().stream().map(QualifiedName::quote).toList());
        for (Map.Entry<SourceChunk, Optional<Map.Entry<String, Layout>>> entry : prepared.chunks()) {
            SourceChunk chunk = entry.getKey();
            Optional<Map.Entry<String, Layout>> into = entry.getValue();
            long[] copied;
            if (into.isPresent()) {
                // The target's columns by name: a sparse index column only the source has stays behind.
                String list = " (" + String.join(", ", into.get().getValue().columns().keySet().stream().map(QualifiedName::quote).toList()) + ")";
                // Binary where the rows are and every compressed column has binary I/O (a bloom sparse index has none).
                String options = !format.readOptions(unit.table()).isEmpty() && binaryIo(into.get().getKey()) ? " (FORMAT binary)" : "";
                copied = pipe.copy("COPY " + chunk.compressed().get() + list + " TO STDOUT" + options,
                        "COPY " + into.get().getKey() + list + " FROM STDIN" + options);
                copied[0] = compressedRows(chunk.compressed().get());
                // The rows of a partly compressed chunk that are not compressed yet: ONLY leaves out the compressed ones.
                long[] loose = pipe.copy("COPY (SELECT " + select + " FROM ONLY " + chunk.name() + ") TO STDOUT" + format.readOptions(unit.table()),
                        "COPY " + hypertable + columns + " FROM STDIN" + format.writeOptions(unit));
                copied[0] += loose[0];
                copied[1] += loose[1];
            } else {
                // Without ONLY, TimescaleDB reads a compressed chunk back decompressed.
                copied = pipe.copy("COPY (SELECT " + select + " FROM " + chunk.name() + ") TO STDOUT" + format.readOptions(unit.table()),
                        "COPY " + hypertable + columns + " FROM STDIN" + format.writeOptions(unit));
            }
            rows += copied[0];
            bytes += copied[1];
        }
        return new long[] {rows, bytes};
    }

    /** Whether every column of the target's compressed chunk {@code table} has a type with binary send and receive. */
    private boolean binaryIo(String table) throws SQLException {
        try (PreparedStatement s = target.prepareStatement("SELECT bool_and(t.typsend <> 0 AND t.typreceive <> 0) FROM pg_attribute a"
                + " JOIN pg_type t ON t.oid = a.atttypid WHERE a.attrelid = ?::regclass AND a.attnum > 0 AND NOT a.attisdropped")) {
            s.setString(1, table);
            try (ResultSet rs = s.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }

    /**
     * Creates the target's chunk with the source chunk's slices; with {@code compress}, compresses it while empty and
     * returns its compressed chunk and how it stores rows when it reads the source's batches exactly, else decompresses
     * it again (still empty) and returns empty.
     */
    private Optional<Map.Entry<String, Layout>> chunkOnTarget(CopyChunk unit, SourceChunk chunk, boolean compress) throws SQLException {
        String name;
        try (PreparedStatement s = target.prepareStatement(
                "SELECT format('%I.%I', schema_name, table_name), schema_name, table_name, created FROM _timescaledb_functions.create_chunk(?::regclass, ?::jsonb)")) {
            s.setString(1, unit.table().name().toString());
            s.setString(2, chunk.slices());
            try (ResultSet rs = s.executeQuery()) {
                rs.next();
                if (!compress) return Optional.empty();
                // A chunk of these slices already on the target holds rows ferry did not put there in this unit.
                if (!rs.getBoolean(4)) {
                    explain(unit, "the target already has a chunk with the slices of " + chunk.name() + " (" + rs.getString(1) + ")");
                    return Optional.empty();
                }
                name = rs.getString(1);
                try (Statement compressEmpty = target.createStatement()) {
                    compressEmpty.execute("SELECT public.compress_chunk(" + QualifiedName.literal(name) + "::regclass)");
                }
                try (PreparedStatement t = target.prepareStatement(TARGET_COMPRESSED)) {
                    t.setString(1, rs.getString(2));
                    t.setString(2, rs.getString(3));
                    try (ResultSet z = t.executeQuery()) {
                        if (!z.next()) {
                            explain(unit, "the target's TimescaleDB made no compressed chunk for an empty chunk");
                        } else {
                            Layout made = Layout.read(z, 2);
                            if (made.reads(chunk.layout())) return Optional.of(Map.entry(z.getString(1), made));
                            explain(unit, "compressed chunks differ: the source's " + chunk.compressed().get() + " has " + chunk.layout()
                                    + "; the target's " + made);
                        }
                    }
                }
            }
        }
        try (Statement s = target.createStatement()) {
            s.execute("SELECT public.decompress_chunk(" + QualifiedName.literal(name) + "::regclass, if_compressed => true)");
        }
        return Optional.empty();
    }

    private void explain(CopyChunk unit, String why) {
        if (explained.add(unit.table().name())) {
            log.info("copy: chunks of {} copied decompressed and compressed again on the target, not in compressed form: {}", unit.table().name(), why);
        }
    }

    private List<SourceChunk> sourceChunks(CopyChunk unit) throws SQLException {
        String column = unit.table().timeRanges().map(r -> r.column()).orElse("range_start");
        String sql = String.format(SOURCE_CHUNKS, SETTINGS, SPARSE, COLUMNS, TYPES, startExpression(unit.table().name()), QualifiedName.quote(column), unit.pageFilter());
        List<SourceChunk> chunks = new ArrayList<>();
        try (PreparedStatement s = source.prepareStatement(sql)) {
            s.setString(1, unit.table().name().schema());
            s.setString(2, unit.table().name().name());
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    chunks.add(new SourceChunk(rs.getString(1), Optional.ofNullable(rs.getString(2)), rs.getString(3), Layout.read(rs, 4), rs.getBoolean(8)));
                }
            }
        }
        return chunks;
    }

    /**
     * The start of a chunk's primary slice as a value of the dimension's column type, as {@code SourceCatalog} writes
     * the copy units' boundaries, so the two compare as the rows' values do.
     */
    private String startExpression(QualifiedName hypertable) throws SQLException {
        String known = startExpressions.get(hypertable);
        if (known != null) return known;
        String type;
        try (PreparedStatement s = source.prepareStatement(PRIMARY_TYPE)) {
            s.setString(1, hypertable.schema());
            s.setString(2, hypertable.name());
            try (ResultSet rs = s.executeQuery()) {
                type = rs.next() ? rs.getString(1) : "";
            }
        }
        String expression = switch (type) {
            case "timestamp with time zone" -> "_timescaledb_functions.to_timestamp(ps.range_start)";
            case "timestamp without time zone" -> "_timescaledb_functions.to_timestamp_without_timezone(ps.range_start)";
            default -> "ps.range_start";
        };
        startExpressions.put(hypertable, expression);
        return expression;
    }

    /** The rows a compressed chunk holds: each of its rows is a batch of {@code _ts_meta_count} rows. */
    private long compressedRows(String compressedChunk) throws SQLException {
        try (Statement s = source.createStatement();
             ResultSet rs = s.executeQuery("SELECT coalesce(sum(_ts_meta_count), 0) FROM " + compressedChunk)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
