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
 * the target's chunk ends partial like the source's. Used for a chunk only when the target reads the source's batches
 * exactly ({@link CompressedLayout#reads}): the same segmentby and orderby, and every column (name and type) and sparse index of
 * the target's compressed chunk also on the source's; otherwise that chunk's rows are copied decompressed, as without
 * this class, and {@link ChunkCompression} compresses it after the copy. The target's chunks are made (and compressed
 * while empty) by {@link TargetCompressedChunks} in a short transaction of their own before the unit's
 * ({@link #prepare}): TimescaleDB holds a
 * {@code SHARE UPDATE EXCLUSIVE} lock on the hypertable from a chunk's creation until the commit, so chunks made inside
 * the unit's transaction let one worker at a time copy into a hypertable. The rows then go in the copy worker's target
 * transaction with the unit's progress row, so a crash leaves the range's rows either all copied or none (empty chunks
 * at most, which the resumed copy's truncation of the hypertable drops). Owned by one copy worker thread.
 */
final class CompressedChunkCopy {
    private static final Logger log = LoggerFactory.getLogger("ferry.snapshot");

    /**
     * The source's chunks of one hypertable in the snapshot whose primary dimension's slice starts in a unit's range
     * ({@link UnitRange}: the chunks the unit's own WHERE clause reads), with what the copy needs of each.
     */
    private static final String SOURCE_CHUNKS = String.format("""
            SELECT format('%%I.%%I', c.schema_name, c.table_name),
                   CASE WHEN z.id IS NULL THEN NULL ELSE format('%%I.%%I', z.schema_name, z.table_name) END,
                   (SELECT jsonb_object_agg(d.column_name, jsonb_build_array(s.range_start, s.range_end))::text
                    FROM _timescaledb_catalog.chunk_constraint cc JOIN _timescaledb_catalog.dimension_slice s ON s.id = cc.dimension_slice_id
                    JOIN _timescaledb_catalog.dimension d ON d.id = s.dimension_id WHERE cc.chunk_id = c.id),
                   CASE WHEN z.id IS NULL THEN NULL ELSE %s END,
                   CASE WHEN z.id IS NULL THEN NULL ELSE %s END,
                   CASE WHEN z.id IS NULL THEN NULL ELSE %s END,
                   CASE WHEN z.id IS NULL THEN NULL ELSE %s END,
                   z.id IS NULL OR has_table_privilege(format('%%I.%%I', z.schema_name, z.table_name), 'SELECT')
            FROM _timescaledb_catalog.hypertable h
            JOIN _timescaledb_catalog.chunk c ON c.hypertable_id = h.id AND NOT c.dropped
            JOIN _timescaledb_catalog.dimension pd ON pd.id = (SELECT min(id) FROM _timescaledb_catalog.dimension WHERE hypertable_id = h.id)
            JOIN _timescaledb_catalog.chunk_constraint pcc ON pcc.chunk_id = c.id
            JOIN _timescaledb_catalog.dimension_slice ps ON ps.id = pcc.dimension_slice_id AND ps.dimension_id = pd.id
            LEFT JOIN _timescaledb_catalog.chunk z ON z.id = c.compressed_chunk_id
            WHERE h.schema_name = ? AND h.table_name = ?""", CompressedLayout.SETTINGS, CompressedLayout.SPARSE, CompressedLayout.COLUMNS, CompressedLayout.TYPES)
            + " AND ps.range_start >= " + UnitRange.LOWER + " AND ps.range_start < " + UnitRange.UPPER + " ORDER BY 1";

    /** Streams one COPY out of the source into one COPY on the target; returns rows and bytes. */
    interface Pipe {
        long[] copy(String copyOut, String copyIn) throws SQLException, IOException;
    }

    record SourceChunk(String name, Optional<String> compressed, String slices, CompressedLayout layout, boolean readable) {}

    private final Connection source;
    private final Connection target;
    private final TargetCompressedChunks targetChunks;
    private final CopyFormat format;
    private final NumericNanInf numericNanInf;
    /** Hypertables already told about in the log, so a fallback's reason is logged once per worker, not per chunk. */
    private final Set<QualifiedName> explained = new HashSet<>();

    CompressedChunkCopy(Connection source, Connection target, CopyFormat format, NumericNanInf numericNanInf) {
        this.source = source;
        this.targetChunks = new TargetCompressedChunks(target);
        this.target = target;
        this.format = format;
        this.numericNanInf = numericNanInf;
    }

    /**
     * What the unit's transaction does with each source chunk of its range: {@code into} names the target's compressed
     * chunk (made, compressed while empty and committed by {@link #prepare}) when the source's batches are copied into
     * it; empty when the chunk's rows go through the hypertable decompressed.
     */
    record Prepared(List<Map.Entry<SourceChunk, Optional<TargetCompressedChunks.Compressed>>> chunks) {}

    /**
     * Makes on the target, and commits, every chunk that starts in {@code unit}'s range with the source chunk's slices,
     * compressed while empty where the source's is compressed and the target will read its batches; returns what the
     * unit's transaction copies, or empty when the range holds no chunk to copy in compressed form and goes through
     * the hypertable whole.
     */
    Optional<Prepared> prepare(CopyChunk unit) throws SQLException {
        if (!unit.table().hypertable()) return Optional.empty();
        // NULL for NaN rewrites values, which compressed batches do not let us do.
        boolean compressedForm = numericNanInf != NumericNanInf.NULL || unit.table().numericColumns().isEmpty();
        List<SourceChunk> chunks = sourceChunks(unit);
        List<TargetCompressedChunks.Made> made = targetChunks.make(unit.table().name(), chunks.stream().map(SourceChunk::slices).toList());
        List<String> toCompress = new ArrayList<>();
        for (int i = 0; i < chunks.size(); i++) {
            SourceChunk chunk = chunks.get(i);
            if (!compressedForm || chunk.compressed().isEmpty() || !chunk.readable()) continue;
            // A chunk of these slices already on the target holds rows ferry did not put there in this unit.
            if (made.get(i).created()) toCompress.add(made.get(i).name());
            else explain(unit, "the target already has a chunk with the slices of " + chunk.name() + " (" + made.get(i).name() + ")");
        }
        Map<String, TargetCompressedChunks.Compressed> compressed = targetChunks.compressEmpty(toCompress);
        List<Map.Entry<SourceChunk, Optional<TargetCompressedChunks.Compressed>>> plan = new ArrayList<>();
        for (int i = 0; i < chunks.size(); i++) {
            SourceChunk chunk = chunks.get(i);
            String name = made.get(i).name();
            Optional<TargetCompressedChunks.Compressed> into = Optional.empty();
            if (toCompress.contains(name)) {
                TargetCompressedChunks.Compressed target = compressed.get(name);
                if (target == null) {
                    explain(unit, "the target's TimescaleDB made no compressed chunk for an empty chunk");
                } else if (target.layout().reads(chunk.layout())) {
                    into = Optional.of(target);
                } else {
                    explain(unit, "compressed chunks differ: the source's " + chunk.compressed().get() + " has " + chunk.layout() + "; the target's " + target.layout());
                }
                if (into.isEmpty()) targetChunks.decompress(name);
            }
            plan.add(Map.entry(chunk, into));
        }
        target.commit();
        return plan.stream().anyMatch(c -> c.getValue().isPresent()) ? Optional.of(new Prepared(plan)) : Optional.empty();
    }

    /**
     * Copies the source chunks {@link #prepare} listed, in the target's open transaction: each compressed one's batches
     * into the target's compressed chunk as they are, then, in one COPY through the hypertable, the rows the others hold
     * (read decompressed) and those a partly compressed chunk holds uncompressed. Returns rows (compressed rows counted
     * as the rows they hold) and bytes.
     */
    long[] copy(CopyChunk unit, Prepared prepared, Pipe pipe) throws SQLException, IOException {
        long rows = 0, bytes = 0;
        String select = String.join(", ", unit.table().columns().stream().map(QualifiedName::quote).toList());
        List<String> batches = new ArrayList<>(), reads = new ArrayList<>();
        for (Map.Entry<SourceChunk, Optional<TargetCompressedChunks.Compressed>> entry : prepared.chunks()) {
            SourceChunk chunk = entry.getKey();
            if (entry.getValue().isPresent()) {
                TargetCompressedChunks.Compressed into = entry.getValue().get();
                String list = into.columnList();
                String options = !format.readOptions(unit.table()).isEmpty() && into.binaryIo() ? " (FORMAT binary)" : "";
                bytes += pipe.copy("COPY " + chunk.compressed().get() + list + " TO STDOUT" + options, "COPY " + into.name() + list + " FROM STDIN" + options)[1];
                batches.add(chunk.compressed().get());
                // ONLY leaves out the compressed rows: what remains are those not compressed yet.
                reads.add("(SELECT " + select + " FROM ONLY " + chunk.name() + " OFFSET 0)");
            } else {
                // Without ONLY, TimescaleDB reads a compressed chunk back decompressed.
                reads.add("(SELECT " + select + " FROM " + chunk.name() + " OFFSET 0)");
            }
        }
        // OFFSET 0 keeps each read a subquery of its own: pulled up into the UNION ALL, TimescaleDB reads a chunk named
        // with ONLY decompressed too (2.25.2: every row of a compressed chunk twice on the target).
        long[] loose = pipe.copy("COPY (" + String.join(" UNION ALL ", reads) + ") TO STDOUT" + format.readOptions(unit.table()),
                "COPY " + unit.table().name() + unit.table().copyColumns() + " FROM STDIN" + format.writeOptions(unit));
        return new long[] {compressedRows(batches) + loose[0], bytes + loose[1]};
    }

    private void explain(CopyChunk unit, String why) {
        if (explained.add(unit.table().name())) {
            log.info("copy: chunks of {} copied decompressed and compressed again on the target, not in compressed form: {}", unit.table().name(), why);
        }
    }

    private List<SourceChunk> sourceChunks(CopyChunk unit) throws SQLException {
        UnitRange range = UnitRange.of(unit);
        List<SourceChunk> chunks = new ArrayList<>();
        try (PreparedStatement s = source.prepareStatement(range.render(SOURCE_CHUNKS))) {
            s.setString(1, unit.table().name().schema());
            s.setString(2, unit.table().name().name());
            range.bindLower(s, 3);
            range.bindUpper(s, 4);
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    chunks.add(new SourceChunk(rs.getString(1), Optional.ofNullable(rs.getString(2)), rs.getString(3), CompressedLayout.read(rs, 4), rs.getBoolean(8)));
                }
            }
        }
        return chunks;
    }

    /** The rows these compressed chunks hold: each of their rows is a batch of {@code _ts_meta_count} rows. */
    private long compressedRows(List<String> compressedChunks) throws SQLException {
        if (compressedChunks.isEmpty()) return 0;
        String sum = String.join(" + ", compressedChunks.stream().map(c -> "(SELECT coalesce(sum(_ts_meta_count), 0) FROM " + c + ")").toList());
        try (Statement s = source.createStatement(); ResultSet rs = s.executeQuery("SELECT " + sum)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
