package dev.ferry.agent.schema;

import dev.ferry.agent.config.TableFilter;
import dev.ferry.agent.name.QualifiedName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Gives the target's hypertables the source's chunks where the target would cut differently on its own. The target's
 * TimescaleDB makes a chunk for each row the copy writes, aligned to the hypertable's current chunk interval; a source
 * chunk made before {@code set_chunk_time_interval} changed it, or rolled up by {@code compress_chunk_time_interval},
 * spans another range. Such a chunk is made on the target before the copy with the same range in every dimension
 * ({@code _timescaledb_functions.create_chunk}), so the rows land in a chunk of the same range and
 * {@code ChunkCompression}, which matches chunks by their ranges, compresses it as on the source. Chunks the target
 * would make alike are left to it. Safe to run again: a chunk with the same ranges is returned, not made twice.
 */
public final class ChunkLayout {
    private static final Logger log = LoggerFactory.getLogger("ferry.schema");

    /**
     * The source chunks whose range in the first (open) dimension is not one interval long and aligned to it, with
     * every dimension's slice as create_chunk takes them: {"time": [start, end], "device": [start, end]}.
     */
    private static final String ODD_CHUNKS = """
            SELECT h.schema_name, h.table_name, jsonb_object_agg(d.column_name, jsonb_build_array(s.range_start, s.range_end))
            FROM _timescaledb_catalog.chunk ch
            JOIN _timescaledb_catalog.hypertable h ON h.id = ch.hypertable_id
            JOIN _timescaledb_catalog.chunk_constraint cc ON cc.chunk_id = ch.id
            JOIN _timescaledb_catalog.dimension_slice s ON s.id = cc.dimension_slice_id
            JOIN _timescaledb_catalog.dimension d ON d.id = s.dimension_id
            WHERE NOT ch.dropped AND h.compression_state <> 2
              AND NOT EXISTS (SELECT 1 FROM _timescaledb_catalog.continuous_agg a WHERE a.mat_hypertable_id = h.id)
            GROUP BY h.schema_name, h.table_name, ch.id
            HAVING bool_or(d.id = (SELECT min(f.id) FROM _timescaledb_catalog.dimension f WHERE f.hypertable_id = h.id)
                           AND d.interval_length IS NOT NULL
                           AND s.range_start > -9223372036854775808 AND s.range_end < 9223372036854775807
                           AND (s.range_end - s.range_start <> d.interval_length OR s.range_start % d.interval_length <> 0))
            ORDER BY 1, 2, min(s.range_start)""";

    private ChunkLayout() {}

    /**
     * Makes on the target the chunks of the source's migrated hypertables that the target would cut otherwise: after
     * pre-data, and again after a resumed copy truncated a hypertable (which drops its chunks).
     */
    public static void recreate(Connection source, Connection target, TableFilter tables) throws SQLException {
        if (!Hypertables.hasTimescale(source)) return;
        record Odd(QualifiedName table, String slices) {}
        List<Odd> odd = new ArrayList<>();
        try (Statement s = source.createStatement(); ResultSet rs = s.executeQuery(ODD_CHUNKS)) {
            while (rs.next()) {
                QualifiedName table = new QualifiedName(rs.getString(1), rs.getString(2));
                if (tables.migrates(table)) odd.add(new Odd(table, rs.getString(3)));
            }
        }
        for (Odd chunk : odd) {
            try (PreparedStatement s = target.prepareStatement("SELECT _timescaledb_functions.create_chunk(?::regclass, ?::jsonb)")) {
                s.setString(1, chunk.table().toString());
                s.setString(2, chunk.slices());
                s.execute();
            }
            log.debug("pre-data: chunk of {} made on the target with the source's ranges {}", chunk.table(), chunk.slices());
        }
        if (!odd.isEmpty()) log.info("pre-data: made {} chunks on the target with the source's ranges (chunk interval changed since, or rolled up by compression)", odd.size());
    }
}
