package dev.ferry.agent.db;

import dev.ferry.agent.config.TableFilter;
import dev.ferry.agent.name.QualifiedName;

import java.sql.Connection;
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
 * Reads which tables of the source database ferry migrates: every permanent table outside the system schemas,
 * ferry's own schema and extensions' member tables, less those whose rows the user's filter leaves out (excluded or
 * --skip-table-data). Read-only.
 */
public final class SourceCatalog {
    /**
     * NOTE: a DEFERRABLE primary key is no replica identity: PostgreSQL refuses UPDATE and DELETE on a table published
     * for them, so such a table must count as unidentified (insert-only publication) or the application breaks.
     */
    private static final String RELATIONS = """
            SELECT c.oid, n.nspname, c.relname, c.relkind, c.relispartition,
                   CASE c.relreplident
                     WHEN 'f' THEN true
                     WHEN 'd' THEN EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary AND i.indimmediate)
                     WHEN 'i' THEN EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident)
                     ELSE false END AS identified,
                   pg_relation_size(c.oid) AS heap_bytes, pg_table_size(c.oid) AS data_bytes,
                   rn.nspname AS root_schema, r.relname AS root_name,
                   EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary AND i.indimmediate) AS keyed
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_class r ON r.oid = pg_partition_root(c.oid)
            LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
            WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'p'
              AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'ferry')
              AND n.nspname !~ '^pg_(toast|temp_)' AND n.nspname !~ '^_?timescaledb'
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
            ORDER BY n.nspname, c.relname""";

    private static final String COLUMNS = """
            SELECT a.attrelid, a.attname, a.atttypid = 'numeric'::regtype,
                   -- built in (below FirstNormalObjectId) and with a binary form; for arrays, their elements too. Not the
                   -- reg* types (regclass, regtype, ...): their text is a name, their binary form an OID of one server.
                   a.atttypid < 16384 AND t.typsend <> 0 AND t.typreceive <> 0 AND t.typrelid = 0 AND t.typname !~ '^_?reg'
                     AND (t.typelem = 0 OR EXISTS (SELECT 1 FROM pg_type e WHERE e.oid = t.typelem AND e.typsend <> 0 AND e.typreceive <> 0
                                                   AND e.typrelid = 0 AND e.typname !~ '^reg'))
            FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
            WHERE a.attrelid = ANY (?) AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
            ORDER BY a.attrelid, a.attnum""";

    /**
     * TimescaleDB's user hypertables (not the internal ones behind compression and continuous aggregates) with the
     * size of their chunks, compressed chunks included; empty without the extension.
     */
    private static final String HYPERTABLES = """
            SELECT format('%I.%I', h.schema_name, h.table_name)::regclass::oid,
                   coalesce((SELECT sum(pg_table_size(format('%I.%I', c.schema_name, c.table_name)::regclass))
                             FROM _timescaledb_catalog.chunk c
                             WHERE NOT c.dropped AND (c.hypertable_id = h.id OR c.hypertable_id = h.compressed_hypertable_id)), 0)
            FROM _timescaledb_catalog.hypertable h WHERE h.compression_state <> 2
              AND NOT EXISTS (SELECT 1 FROM _timescaledb_catalog.continuous_agg a WHERE a.mat_hypertable_id = h.id)""";

    /**
     * Where each hypertable's copy units begin in its first dimension, as SQL literals of the column's type, for time
     * (timestamptz, timestamp) and integer columns; other types are copied whole. A unit begins where a chunk begins,
     * and inside a chunk much bigger than the hypertable's others: its range is cut into equal parts of about four
     * times the median chunk's size (at least 1 MB, at most 256 MB; at most 64 parts), so one big chunk (made before
     * the chunk interval was shortened, or a hypertable of a single chunk) is copied by every worker, as a big table
     * is split into page ranges. Sizes are of the rows' heap: a compressed chunk's is its size before compression
     * (compression_chunk_size) plus what was written into it since. A time range of a compressed chunk decompresses
     * only the batches whose time range overlaps it (measured: the two halves of a 300,000-row chunk read in 304 +
     * 271 ms against 570 ms whole; 345 + 275 ms against 501 ms when time is not in its orderby), so cutting it pays too.
     */
    private static final String CHUNK_STARTS = """
            WITH slices AS (
              SELECT h.id AS hypertable_id, format('%I.%I', h.schema_name, h.table_name)::regclass::oid AS relid, d.column_name, d.column_type,
                     s.range_start, s.range_end,
                     sum(pg_relation_size(format('%I.%I', ch.schema_name, ch.table_name)::regclass)
                         + coalesce((SELECT z.uncompressed_heap_size FROM _timescaledb_catalog.compression_chunk_size z WHERE z.chunk_id = ch.id), 0)) AS bytes
              FROM _timescaledb_catalog.hypertable h
              JOIN _timescaledb_catalog.dimension d ON d.id = (SELECT min(id) FROM _timescaledb_catalog.dimension WHERE hypertable_id = h.id)
              JOIN _timescaledb_catalog.dimension_slice s ON s.dimension_id = d.id
              JOIN _timescaledb_catalog.chunk_constraint cc ON cc.dimension_slice_id = s.id
              JOIN _timescaledb_catalog.chunk ch ON ch.id = cc.chunk_id AND NOT ch.dropped
              WHERE d.num_slices IS NULL
                AND d.column_type IN ('timestamptz'::regtype, 'timestamp'::regtype, 'int2'::regtype, 'int4'::regtype, 'int8'::regtype)
              GROUP BY 1, 2, 3, 4, 5, 6),
            pieces AS (
              SELECT hypertable_id, greatest(1048576, least(4 * percentile_cont(0.5) WITHIN GROUP (ORDER BY bytes), 268435456)) AS bytes
              FROM slices GROUP BY 1),
            starts AS (
              SELECT s.relid, s.column_name, s.column_type, s.range_start AS start FROM slices s WHERE s.range_start > -9223372036854775808
              UNION
              SELECT s.relid, s.column_name, s.column_type, s.range_start + (s.range_end - s.range_start) / n.parts * k
              FROM slices s JOIN pieces p USING (hypertable_id)
              CROSS JOIN LATERAL (SELECT least(64, ceil(s.bytes / p.bytes))::int AS parts) n
              CROSS JOIN LATERAL generate_series(1, n.parts - 1) k
              WHERE n.parts > 1 AND s.range_start > -9223372036854775808 AND s.range_end < 9223372036854775807)
            SELECT relid, column_name,
                   array_agg(CASE column_type
                               WHEN 'timestamptz'::regtype THEN quote_literal(_timescaledb_functions.to_timestamp(start)::text) || '::timestamptz'
                               WHEN 'timestamp'::regtype THEN quote_literal(_timescaledb_functions.to_timestamp_without_timezone(start)::text) || '::timestamp'
                               ELSE start::text END ORDER BY start)
            FROM starts GROUP BY 1, 2""";
    /** At most this many copy units per hypertable: consecutive chunks are grouped beyond it. */
    private static final int MAX_HYPERTABLE_UNITS = 256;

    /** The migrated tables (plain tables and partition roots, each with the leaves that hold its rows) in name order. */
    public List<SourceTable> read(Connection source, TableFilter filter) throws SQLException {
        record Row(long oid, QualifiedName name, boolean partitioned, boolean partition, boolean identified, long heapBytes, long dataBytes, QualifiedName root,
                   boolean keyed) {}
        List<Row> rows = new ArrayList<>();
        try (Statement s = source.createStatement(); ResultSet rs = s.executeQuery(RELATIONS)) {
            while (rs.next()) {
                QualifiedName name = new QualifiedName(rs.getString(2), rs.getString(3));
                QualifiedName root = rs.getString(9) == null ? name : new QualifiedName(rs.getString(9), rs.getString(10));
                rows.add(new Row(rs.getLong(1), name, rs.getString(4).equals("p"), rs.getBoolean(5), rs.getBoolean(6), rs.getLong(7), rs.getLong(8), root, rs.getBoolean(11)));
            }
        }
        Map<Long, Long> hypertableBytes = hypertables(source);
        Map<Long, PhysicalTable.TimeRanges> timeRanges = hypertableBytes.isEmpty() ? Map.of() : timeRanges(source);
        Map<Long, List<String>> columns = new LinkedHashMap<>();
        Map<Long, Set<String>> numeric = new LinkedHashMap<>();
        Set<Long> userTypes = new HashSet<>();
        try (var s = source.prepareStatement(COLUMNS)) {
            s.setArray(1, source.createArrayOf("oid", rows.stream().map(Row::oid).toArray()));
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    columns.computeIfAbsent(rs.getLong(1), k -> new ArrayList<>()).add(rs.getString(2));
                    if (rs.getBoolean(3)) numeric.computeIfAbsent(rs.getLong(1), k -> new HashSet<>()).add(rs.getString(2));
                    if (!rs.getBoolean(4)) userTypes.add(rs.getLong(1));
                }
            }
        }
        List<SourceTable> tables = new ArrayList<>();
        for (Row top : rows) {
            if (top.partition() || !filter.copiesRows(top.name())) continue;
            List<PhysicalTable> physical = new ArrayList<>();
            List<QualifiedName> unidentifiedLeaves = new ArrayList<>();
            boolean partlyExcluded = false;
            for (Row member : rows) {
                boolean inTree = top.partitioned() ? member.root().equals(top.name()) : member == top;
                boolean left = inTree && member != top && !filter.copiesRows(member.name(), top.name());
                if (left) partlyExcluded = true;
                if (!inTree || member.partitioned() || left) continue;
                Long hypertable = hypertableBytes.get(member.oid());
                physical.add(new PhysicalTable(member.name(), columns.getOrDefault(member.oid(), List.of()), numeric.getOrDefault(member.oid(), Set.of()),
                        hypertable != null ? 0 : member.heapBytes(), hypertable != null ? hypertable : member.dataBytes(), !userTypes.contains(member.oid()),
                        hypertable != null, Optional.ofNullable(timeRanges.get(member.oid()))));
                if (top.partitioned() && !member.identified()) unidentifiedLeaves.add(member.name());
            }
            // PostgreSQL identifies a partition's rows by the partition's own replica identity, and ferry publishes each
            // partition on its own: the root's identity plays no part.
            boolean identified = top.partitioned() ? unidentifiedLeaves.isEmpty() : top.identified();
            // Partitions made later inherit the root's primary key, so they may be published for updates too.
            boolean wholeTree = top.partitioned() && top.keyed() && identified && !partlyExcluded;
            tables.add(new SourceTable(top.name(), top.partitioned(), identified, unidentifiedLeaves, physical, wholeTree));
        }
        return tables;
    }

    /** OID of each hypertable -> the boundaries between its chunks (the first chunk's start is none). */
    private static Map<Long, PhysicalTable.TimeRanges> timeRanges(Connection source) throws SQLException {
        Map<Long, PhysicalTable.TimeRanges> ranges = new HashMap<>();
        try (Statement s = source.createStatement(); ResultSet rs = s.executeQuery(CHUNK_STARTS)) {
            while (rs.next()) {
                List<String> starts = List.of((String[]) rs.getArray(3).getArray());
                if (starts.size() < 2) continue;
                int step = (starts.size() - 1 + MAX_HYPERTABLE_UNITS - 2) / (MAX_HYPERTABLE_UNITS - 1);
                List<String> boundaries = new ArrayList<>();
                for (int i = 1; i < starts.size(); i += step) boundaries.add(starts.get(i));
                ranges.put(rs.getLong(1), new PhysicalTable.TimeRanges(rs.getString(2), boundaries));
            }
        }
        return ranges;
    }

    /** OID of each hypertable -> bytes of its chunks. */
    private static Map<Long, Long> hypertables(Connection source) throws SQLException {
        Map<Long, Long> bytes = new HashMap<>();
        try (Statement s = source.createStatement();
             ResultSet exists = s.executeQuery("SELECT to_regclass('_timescaledb_catalog.hypertable') IS NOT NULL")) {
            exists.next();
            if (!exists.getBoolean(1)) return bytes;
        }
        try (Statement s = source.createStatement(); ResultSet rs = s.executeQuery(HYPERTABLES)) {
            while (rs.next()) bytes.put(rs.getLong(1), rs.getLong(2));
        }
        return bytes;
    }
}
