package dev.ferry.agent.snapshot;

import dev.ferry.agent.config.MigrationConfig.NumericNanInf;
import dev.ferry.agent.db.QualifiedName;
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
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Copies a hypertable's compressed chunks in their compressed form instead of reading them back decompressed: the
 * target gets a chunk with the source chunk's exact slices ({@code create_chunk}), compressed while still empty so
 * that its own TimescaleDB makes the compressed chunk (layout, settings, indexes), and the source's compressed rows are
 * then copied into it as they are. Rows a partly compressed chunk holds uncompressed follow through the hypertable, so
 * the target's chunk ends partial like the source's. Used for a chunk only when it is exact: the same chunk-level
 * compression settings (segmentby, orderby, sparse indexes) and the same compressed columns (names and types) on both
 * sides; otherwise that chunk's rows are copied decompressed, as without this class, and {@link ChunkCompression}
 * compresses it after the copy. Everything happens in the copy worker's target transaction, with the chunk's progress
 * row, so a crash leaves the range either all copied or not at all. Owned by one copy worker thread.
 */
final class CompressedChunkCopy {
    private static final Logger log = LoggerFactory.getLogger("ferry.snapshot");

    /** Per chunk: its compression settings, one text to compare across servers; null without a settings row. */
    private static final String SETTINGS = "(SELECT concat_ws(' | ', cs.segmentby::text, cs.orderby::text, cs.orderby_desc::text, cs.orderby_nullsfirst::text,"
            + " cs.index::text) FROM _timescaledb_catalog.compression_settings cs WHERE cs.relid = format('%I.%I', c.schema_name, c.table_name)::regclass)";
    /** Per compressed chunk: its columns, names and types in name order, to compare across servers. */
    private static final String LAYOUT = "(SELECT string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attname)"
            + " FROM pg_attribute a WHERE a.attrelid = format('%I.%I', z.schema_name, z.table_name)::regclass AND a.attnum > 0 AND NOT a.attisdropped)";

    /**
     * The source's chunks of one hypertable in the snapshot, with the start of their primary dimension's slice named as
     * the dimension's column, so that the copy unit's own WHERE clause picks those of its range. {@code %s}: the start
     * expression and its column name.
     */
    private static final String SOURCE_CHUNKS = """
            SELECT chunk, compressed, slices, settings, layout, columns, readable FROM (
              SELECT format('%%I.%%I', c.schema_name, c.table_name) AS chunk,
                     CASE WHEN z.id IS NULL THEN NULL ELSE format('%%I.%%I', z.schema_name, z.table_name) END AS compressed,
                     (SELECT jsonb_object_agg(d.column_name, jsonb_build_array(s.range_start, s.range_end))::text
                      FROM _timescaledb_catalog.chunk_constraint cc JOIN _timescaledb_catalog.dimension_slice s ON s.id = cc.dimension_slice_id
                      JOIN _timescaledb_catalog.dimension d ON d.id = s.dimension_id WHERE cc.chunk_id = c.id) AS slices,
                     CASE WHEN z.id IS NULL THEN NULL ELSE %s END AS settings,
                     CASE WHEN z.id IS NULL THEN NULL ELSE %s END AS layout,
                     CASE WHEN z.id IS NULL THEN NULL ELSE (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
                       WHERE a.attrelid = format('%%I.%%I', z.schema_name, z.table_name)::regclass AND a.attnum > 0 AND NOT a.attisdropped) END AS columns,
                     z.id IS NULL OR has_table_privilege(format('%%I.%%I', z.schema_name, z.table_name), 'SELECT') AS readable,
                     %s AS %s
              FROM _timescaledb_catalog.hypertable h
              JOIN _timescaledb_catalog.chunk c ON c.hypertable_id = h.id AND NOT c.dropped
              JOIN _timescaledb_catalog.dimension pd ON pd.id = (SELECT min(id) FROM _timescaledb_catalog.dimension WHERE hypertable_id = h.id)
              JOIN _timescaledb_catalog.chunk_constraint pcc ON pcc.chunk_id = c.id
              JOIN _timescaledb_catalog.dimension_slice ps ON ps.id = pcc.dimension_slice_id AND ps.dimension_id = pd.id
              LEFT JOIN _timescaledb_catalog.chunk z ON z.id = c.compressed_chunk_id
              WHERE h.schema_name = ? AND h.table_name = ?) chunks%s
            ORDER BY chunk""";

    private static final String PRIMARY_TYPE = """
            SELECT d.column_type::regtype::text FROM _timescaledb_catalog.hypertable h
            JOIN _timescaledb_catalog.dimension d ON d.id = (SELECT min(id) FROM _timescaledb_catalog.dimension WHERE hypertable_id = h.id)
            WHERE h.schema_name = ? AND h.table_name = ?""";

    private static final String TARGET_COMPRESSED = String.format("""
            SELECT format('%%I.%%I', z.schema_name, z.table_name), %s, %s
            FROM _timescaledb_catalog.chunk c JOIN _timescaledb_catalog.chunk z ON z.id = c.compressed_chunk_id
            WHERE c.schema_name = ? AND c.table_name = ?""", SETTINGS, LAYOUT);

    /** Streams one COPY out of the source into one COPY on the target; returns rows and bytes. */
    interface Pipe {
        long[] copy(String copyOut, String copyIn) throws SQLException, IOException;
    }

    private record SourceChunk(String name, Optional<String> compressed, String slices, String settings, String layout, List<String> columns,
                               boolean readable) {}

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
     * Copies the source chunks in {@code unit}'s range one by one, compressed ones in compressed form, in the target's
     * open transaction; returns rows (compressed rows counted as the rows they hold) and bytes, or empty when the range
     * holds no compressed chunk and is left to the plain copy through the hypertable.
     */
    Optional<long[]> copy(CopyChunk unit, Pipe pipe) throws SQLException, IOException {
        if (!unit.table().hypertable()) return Optional.empty();
        // NULL for NaN rewrites values, which compressed batches do not let us do.
        if (numericNanInf == NumericNanInf.NULL && !unit.table().numericColumns().isEmpty()) return Optional.empty();
        List<SourceChunk> chunks = sourceChunks(unit);
        if (chunks.stream().noneMatch(c -> c.compressed().isPresent())) return Optional.empty();
        long rows = 0, bytes = 0;
        String hypertable = unit.table().name().toString();
        String columns = unit.table().copyColumns();
        String select = String.join(", ", unit.table().columns().stream().map(QualifiedName::quote).toList());
        for (SourceChunk chunk : chunks) {
            Optional<String> into = chunk.compressed().isPresent() && chunk.readable() ? compressedChunkOnTarget(unit, chunk) : Optional.empty();
            long[] copied;
            if (into.isPresent()) {
                String list = " (" + String.join(", ", chunk.columns().stream().map(QualifiedName::quote).toList()) + ")";
                copied = pipe.copy("COPY " + chunk.compressed().get() + list + " TO STDOUT" + format.readOptions(unit.table()),
                        "COPY " + into.get() + list + " FROM STDIN" + format.writeOptions(unit));
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
        return Optional.of(new long[] {rows, bytes});
    }

    /**
     * Creates the target's chunk with the source chunk's slices and compresses it while empty; returns its compressed
     * chunk when that matches the source's exactly, else decompresses it again (still empty) and returns empty.
     */
    private Optional<String> compressedChunkOnTarget(CopyChunk unit, SourceChunk chunk) throws SQLException {
        String name;
        try (PreparedStatement s = target.prepareStatement(
                "SELECT format('%I.%I', schema_name, table_name), schema_name, table_name, created FROM _timescaledb_functions.create_chunk(?::regclass, ?::jsonb)")) {
            s.setString(1, unit.table().name().toString());
            s.setString(2, chunk.slices());
            try (ResultSet rs = s.executeQuery()) {
                rs.next();
                // A chunk of these slices already on the target holds rows ferry did not put there in this transaction.
                if (!rs.getBoolean(4)) {
                    explain(unit, "the target already has a chunk with the slices of " + chunk.name() + " (" + rs.getString(1) + ")");
                    return Optional.empty();
                }
                name = rs.getString(1);
                try (Statement compress = target.createStatement()) {
                    compress.execute("SELECT public.compress_chunk(" + QualifiedName.literal(name) + "::regclass)");
                }
                try (PreparedStatement t = target.prepareStatement(TARGET_COMPRESSED)) {
                    t.setString(1, rs.getString(2));
                    t.setString(2, rs.getString(3));
                    try (ResultSet z = t.executeQuery()) {
                        boolean made = z.next();
                        if (made && chunk.settings() != null && chunk.settings().equals(z.getString(2)) && chunk.layout().equals(z.getString(3))) {
                            return Optional.of(z.getString(1));
                        }
                        explain(unit, made
                                ? "compressed chunks differ: the source's " + chunk.compressed().get() + " has settings [" + chunk.settings() + "] and columns ["
                                + chunk.layout() + "], the target's [" + z.getString(2) + "] and [" + z.getString(3) + "]"
                                : "the target's TimescaleDB made no compressed chunk for an empty chunk");
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
        String sql = String.format(SOURCE_CHUNKS, SETTINGS, LAYOUT, startExpression(unit.table().name()), QualifiedName.quote(column), unit.pageFilter());
        List<SourceChunk> chunks = new ArrayList<>();
        try (PreparedStatement s = source.prepareStatement(sql)) {
            s.setString(1, unit.table().name().schema());
            s.setString(2, unit.table().name().name());
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    java.sql.Array names = rs.getArray(6);
                    chunks.add(new SourceChunk(rs.getString(1), Optional.ofNullable(rs.getString(2)), rs.getString(3), rs.getString(4), rs.getString(5),
                            names == null ? List.of() : List.of((String[]) names.getArray()), rs.getBoolean(7)));
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
