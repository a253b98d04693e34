package dev.ferry.agent.snapshot;

import dev.ferry.agent.db.Database;
import dev.ferry.agent.db.PhysicalTable;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Refuses a hypertable unit whose chunks TimescaleDB compressed, recompressed or decompressed on the source after the
 * copy's snapshot. Those operations move rows between a chunk and its compressed chunk, then truncate what they emptied
 * or mark the chunk fully compressed; a truncation is invisible to an older snapshot, and TimescaleDB plans a read by
 * the chunk's current status, not the snapshot's. Either way a read in the copy's snapshot misses the moved rows (rows
 * written into a compressed chunk and then recompressed, a decompressed chunk's rows), and the stream skips the move by
 * its markers: they would be lost. ferry keeps no lock on chunks it has not read yet (that would block the source's
 * jobs for the whole copy, the FAQ's pg_dump hazard), so it checks instead, after the unit's read and before its commit:
 * each chunk's status, compressed chunk and files as the snapshot sees them against the same now. A change after the
 * read is refused too (one query cannot tell before from after); that costs a copy again, never a row.
 * One per copy worker, on that worker's thread; its own connection to the source lives outside the snapshot.
 */
final class ChunkRewrites implements AutoCloseable {
    /**
     * Chunk id -> its status, compressed chunk and the files of both, for the chunks of one hypertable whose
     * first-dimension range overlaps the unit's ({@link UnitRange}).
     */
    private static final String CHUNK_STATE = """
            SELECT ch.id, format('%s status %s, compressed chunk %s, files %s/%s', format('%I.%I', ch.schema_name, ch.table_name),
                                 ch.status, ch.compressed_chunk_id, c.relfilenode, z.relfilenode)
            FROM _timescaledb_catalog.hypertable h
            JOIN _timescaledb_catalog.dimension d ON d.id = (SELECT min(f.id) FROM _timescaledb_catalog.dimension f WHERE f.hypertable_id = h.id)
            JOIN _timescaledb_catalog.dimension_slice s ON s.dimension_id = d.id
            JOIN _timescaledb_catalog.chunk_constraint cc ON cc.dimension_slice_id = s.id
            JOIN _timescaledb_catalog.chunk ch ON ch.id = cc.chunk_id AND NOT ch.dropped
            JOIN pg_namespace n ON n.nspname = ch.schema_name
            JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = ch.table_name
            LEFT JOIN _timescaledb_catalog.chunk zc ON zc.id = ch.compressed_chunk_id
            LEFT JOIN pg_namespace zn ON zn.nspname = zc.schema_name
            LEFT JOIN pg_class z ON z.relnamespace = zn.oid AND z.relname = zc.table_name
            WHERE h.schema_name = ? AND h.table_name = ?
              AND s.range_start < """ + UnitRange.UPPER + " AND s.range_end > " + UnitRange.LOWER;

    private final Database source;
    private Connection current;

    ChunkRewrites(Database source) {
        this.source = source;
    }

    /** Logs in outside the snapshot, if not yet: called before a unit's read, so the login does not lengthen its locks. */
    void connect() {
        if (current == null) current = source.open("ferry");
    }

    /**
     * Throws, naming the chunks, when a chunk {@code unit} read in {@code snapshot} (the worker's connection) has
     * changed since.
     */
    void check(Connection snapshot, CopyChunk unit) throws SQLException {
        PhysicalTable table = unit.table();
        UnitRange range = UnitRange.of(unit);
        String sql = range.render(CHUNK_STATE);
        Map<Long, String> then = state(snapshot, sql, table, range);
        if (then.isEmpty()) return;
        connect();
        Map<Long, String> now = state(current, sql, table, range);
        List<String> changed = new ArrayList<>();
        // A chunk dropped since (retention) is gone from the source too; one created since holds only rows the stream brings.
        then.forEach((id, state) -> {
            if (now.containsKey(id) && !now.get(id).equals(state)) changed.add(state + " -> " + now.get(id).replaceFirst("^\\S+ ", ""));
        });
        if (changed.isEmpty()) return;
        throw new ChunksChangedDuringCopy("copy of " + unit + " refused: TimescaleDB changed its chunks on the source after the copy's snapshot: "
                + String.join("; ", changed) + ".",
                "a compress_chunk, decompress_chunk or recompression (by hand or by a compression policy) moves rows between a chunk and its"
                        + " compressed chunk in a way a read in an older snapshot does not see whole, so rows could be missing from the copy."
                        + " Nothing of this unit was written to the target.",
                "none needed: ferry copies " + table.name() + " again in a new snapshot by itself (a few times at most; then run the same `ferry run` again)."
                        + " To avoid it on a big hypertable, pause its compression policy on the source until ferry streams:"
                        + " SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression';"
                        + " (schedule it again afterwards; the target's is scheduled at the cutover).");
    }

    private static Map<Long, String> state(Connection connection, String sql, PhysicalTable table, UnitRange range) throws SQLException {
        Map<Long, String> state = new HashMap<>();
        try (PreparedStatement s = connection.prepareStatement(sql)) {
            s.setString(1, table.name().schema());
            s.setString(2, table.name().name());
            range.bindUpper(s, 3);
            range.bindLower(s, 4);
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) state.put(rs.getLong(1), rs.getString(2));
            }
        }
        return state;
    }

    @Override
    public void close() throws SQLException {
        if (current != null) current.close();
    }
}
