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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Makes the source's TimescaleDB hypertables hypertables on the target, from the definitions in the source's catalog
 * rather than by restoring {@code _timescaledb_catalog} rows: pg_dump's pre-data leaves TimescaleDB's schemas out,
 * so each hypertable arrives as an empty plain table, and here {@code create_hypertable} and {@code add_dimension}
 * give it the same dimensions (columns, chunk intervals, numbers of partitions, partitioning functions) and
 * {@code ALTER TABLE ... SET (timescaledb.compress ...)} the same compression settings. The target's TimescaleDB then
 * creates chunks of its own as the copy writes rows. Safe to run again: what exists is kept.
 */
public final class Hypertables {
    private static final Logger log = LoggerFactory.getLogger("ferry.schema");

    /** Dimensions in creation order: the first is the one create_hypertable makes. */
    private static final String DIMENSIONS = """
            SELECT format('%I.%I', h.schema_name, h.table_name), d.column_name, d.num_slices, d.interval_length,
                   CASE WHEN d.partitioning_func IS NULL THEN NULL ELSE format('%I.%I', d.partitioning_func_schema, d.partitioning_func) END,
                   CASE WHEN d.integer_now_func IS NULL THEN NULL ELSE format('%I.%I', d.integer_now_func_schema, d.integer_now_func) END,
                   h.schema_name, h.table_name
            FROM _timescaledb_catalog.hypertable h JOIN _timescaledb_catalog.dimension d ON d.hypertable_id = h.id
            WHERE h.compression_state <> 2
              AND NOT EXISTS (SELECT 1 FROM _timescaledb_catalog.continuous_agg a WHERE a.mat_hypertable_id = h.id)
            ORDER BY h.schema_name, h.table_name, d.id""";

    private static final String COMPRESSION = """
            SELECT hypertable_schema, hypertable_name, attname, segmentby_column_index, orderby_column_index, orderby_asc, orderby_nullsfirst
            FROM timescaledb_information.compression_settings
            ORDER BY 1, 2, segmentby_column_index NULLS LAST, orderby_column_index NULLS LAST""";

    /**
     * Compression settings beyond segmentby and orderby, per hypertable: the sparse indexes the user configured
     * ({@code timescaledb.sparse_index}, entries of source "config" in the catalog's {@code index}; those TimescaleDB
     * derives itself are left to the target's) and {@code compress_chunk_time_interval}. TimescaleDB before 2.22 has
     * other catalogs: read only where {@code compression_settings.index} exists.
     */
    private static final String COMPRESSION_EXTRAS = """
            SELECT h.schema_name, h.table_name,
                   (SELECT string_agg(format('%s(%s)', e->>'type', quote_ident(e->>'column')), ', ' ORDER BY o)
                    FROM jsonb_array_elements(cs.index) WITH ORDINALITY AS x(e, o) WHERE e->>'source' = 'config'),
                   (SELECT CASE WHEN d.column_type IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype)
                                THEN quote_literal(d.compress_interval_length || ' microseconds') ELSE d.compress_interval_length::text END
                    FROM _timescaledb_catalog.dimension d WHERE d.hypertable_id = h.id AND d.compress_interval_length IS NOT NULL ORDER BY d.id LIMIT 1)
            FROM _timescaledb_catalog.hypertable h
            LEFT JOIN _timescaledb_catalog.compression_settings cs ON cs.relid = format('%I.%I', h.schema_name, h.table_name)::regclass""";

    /** The default hash partitioning function: not named in add_dimension, so it means the target's own default. */
    private static final Set<String> DEFAULT_PARTITIONING = Set.of("_timescaledb_functions.get_partition_hash", "_timescaledb_internal.get_partition_hash");

    record Dimension(String column, Optional<Integer> partitions, Optional<Long> interval, Optional<String> partitioningFunction,
                     Optional<String> integerNowFunction) {}

    record Compression(List<String> segmentBy, List<String> orderBy, Optional<String> sparseIndex, Optional<String> chunkInterval) {
        Compression(List<String> segmentBy, List<String> orderBy) {
            this(segmentBy, orderBy, Optional.empty(), Optional.empty());
        }
    }

    /** A hypertable as the source defines it. */
    record Definition(QualifiedName name, List<Dimension> dimensions, Optional<Compression> compression) {}

    /** The source's hypertables; empty without TimescaleDB. */
    static List<Definition> read(Connection source, TableFilter tables) throws SQLException {
        if (!hasTimescale(source)) return List.of();
        Map<QualifiedName, List<Dimension>> dimensions = new LinkedHashMap<>();
        try (Statement s = source.createStatement(); ResultSet rs = s.executeQuery(DIMENSIONS)) {
            while (rs.next()) {
                QualifiedName name = new QualifiedName(rs.getString(7), rs.getString(8));
                int slices = rs.getInt(3);
                Optional<Integer> partitions = rs.wasNull() ? Optional.empty() : Optional.of(slices);
                long length = rs.getLong(4);
                Optional<Long> interval = rs.wasNull() ? Optional.empty() : Optional.of(length);
                dimensions.computeIfAbsent(name, k -> new ArrayList<>()).add(new Dimension(rs.getString(2), partitions, interval,
                        Optional.ofNullable(rs.getString(5)), Optional.ofNullable(rs.getString(6))));
            }
        }
        Map<QualifiedName, List<String>> segmentBy = new LinkedHashMap<>();
        Map<QualifiedName, List<String>> orderBy = new LinkedHashMap<>();
        try (Statement s = source.createStatement(); ResultSet rs = s.executeQuery(COMPRESSION)) {
            while (rs.next()) {
                QualifiedName table = new QualifiedName(rs.getString(1), rs.getString(2));
                segmentBy.computeIfAbsent(table, k -> new ArrayList<>());
                orderBy.computeIfAbsent(table, k -> new ArrayList<>());
                String column = QualifiedName.quote(rs.getString(3));
                rs.getInt(4);
                if (!rs.wasNull()) segmentBy.get(table).add(column);
                rs.getInt(5);
                if (!rs.wasNull()) {
                    boolean asc = rs.getBoolean(6);
                    boolean nullsFirst = rs.getBoolean(7);
                    orderBy.get(table).add(column + (asc ? " ASC" : " DESC") + (nullsFirst ? " NULLS FIRST" : " NULLS LAST"));
                }
            }
        }
        Map<QualifiedName, String[]> extras = new LinkedHashMap<>();
        if (hasIndexSettings(source)) {
            try (Statement s = source.createStatement(); ResultSet rs = s.executeQuery(COMPRESSION_EXTRAS)) {
                while (rs.next()) extras.put(new QualifiedName(rs.getString(1), rs.getString(2)), new String[] {rs.getString(3), rs.getString(4)});
            }
        }
        List<Definition> definitions = new ArrayList<>();
        for (Map.Entry<QualifiedName, List<Dimension>> e : dimensions.entrySet()) {
            if (!tables.migrates(e.getKey())) continue; // a --skip-table-data hypertable is still made, empty
            QualifiedName key = e.getKey();
            String[] extra = extras.getOrDefault(key, new String[2]);
            Optional<Compression> compression = segmentBy.containsKey(key) || compressionEnabled(source, e.getKey())
                    ? Optional.of(new Compression(segmentBy.getOrDefault(key, List.of()), orderBy.getOrDefault(key, List.of()),
                            Optional.ofNullable(extra[0]), Optional.ofNullable(extra[1])))
                    : Optional.empty();
            definitions.add(new Definition(e.getKey(), e.getValue(), compression));
        }
        return definitions;
    }

    /** The source's hypertables (those the filter migrates) with at least one compressed chunk. */
    static List<QualifiedName> withCompressedChunks(Connection source, TableFilter tables) throws SQLException {
        List<QualifiedName> names = new ArrayList<>();
        if (!hasTimescale(source)) return names;
        try (Statement s = source.createStatement(); ResultSet rs = s.executeQuery("""
                SELECT h.schema_name, h.table_name FROM _timescaledb_catalog.hypertable h
                WHERE EXISTS (SELECT 1 FROM _timescaledb_catalog.chunk c WHERE c.hypertable_id = h.id AND c.compressed_chunk_id IS NOT NULL AND NOT c.dropped)
                ORDER BY 1, 2""")) {
            while (rs.next()) {
                QualifiedName name = new QualifiedName(rs.getString(1), rs.getString(2));
                if (tables.migrates(name)) names.add(name);
            }
        }
        return names;
    }

    /** Makes each of the source's hypertables a hypertable on the target, with its compression settings. */
    public static void create(Connection source, Connection target, TableFilter tables) throws SQLException {
        List<Definition> definitions = read(source, tables);
        for (Definition definition : definitions) {
            for (String sql : statements(definition)) {
                log.debug("hypertables: {}", sql);
                if (sql.startsWith("ALTER TABLE") && compressionEnabled(target, definition.name())) continue; // resumed: kept as it is
                try (Statement s = target.createStatement()) {
                    s.execute(sql);
                }
            }
            log.info("pre-data: {} is a hypertable on the target: {}", definition.name(), describe(definition));
        }
    }

    /** The target's statements for one hypertable, in order; each is safe to run again except the compression one. */
    static List<String> statements(Definition definition) {
        List<String> sql = new ArrayList<>();
        String table = literal(definition.name().toString());
        Dimension first = definition.dimensions().get(0);
        sql.add("SELECT public.create_hypertable(" + table + ", " + literal(first.column())
                + first.interval().map(i -> ", chunk_time_interval => " + i + "::bigint").orElse("")
                + first.partitioningFunction().map(f -> ", time_partitioning_func => " + literal(f) + "::regproc").orElse("")
                + ", create_default_indexes => false, if_not_exists => true)");
        for (Dimension d : definition.dimensions().subList(1, definition.dimensions().size())) {
            sql.add("SELECT public.add_dimension(" + table + ", " + literal(d.column())
                    + d.partitions().map(n -> ", number_partitions => " + n).orElse("")
                    + d.interval().map(i -> ", chunk_time_interval => " + i + "::bigint").orElse("")
                    + d.partitioningFunction().filter(f -> !DEFAULT_PARTITIONING.contains(f)).map(f -> ", partitioning_func => " + literal(f) + "::regproc").orElse("")
                    + ", if_not_exists => true)");
        }
        first.integerNowFunction().ifPresent(f -> sql.add("SELECT public.set_integer_now_func(" + table + ", " + literal(f) + "::regproc, replace_if_exists => true)"));
        definition.compression().ifPresent(c -> sql.add("ALTER TABLE " + definition.name() + " SET (timescaledb.compress"
                // segmentby always named, '' for none: without one, newer versions choose one themselves. An orderby the
                // source left to TimescaleDB (none stored) is left to the target's, chosen when a chunk is compressed.
                + ", timescaledb.compress_segmentby = " + literal(String.join(", ", c.segmentBy()))
                + (c.orderBy().isEmpty() ? "" : ", timescaledb.compress_orderby = " + literal(String.join(", ", c.orderBy())))
                + c.sparseIndex().map(i -> ", timescaledb.sparse_index = " + literal(i)).orElse("")
                + c.chunkInterval().map(i -> ", timescaledb.compress_chunk_time_interval = " + i).orElse("") + ")"));
        return sql;
    }

    static String describe(Definition definition) {
        List<String> parts = new ArrayList<>();
        for (Dimension d : definition.dimensions()) {
            parts.add(d.column() + d.interval().map(i -> " every " + i).orElse("") + d.partitions().map(n -> " in " + n + " partitions").orElse("")
                    + d.partitioningFunction().map(f -> " by " + f).orElse(""));
        }
        return String.join(", ", parts) + definition.compression().map(c -> "; compressed, segmentby '" + String.join(", ", c.segmentBy())
                + "', orderby '" + String.join(", ", c.orderBy()) + "'" + c.sparseIndex().map(i -> ", sparse indexes '" + i + "'").orElse("")
                + c.chunkInterval().map(i -> ", compressed chunks of " + i).orElse("")).orElse("");
    }

    /** Whether this TimescaleDB keeps sparse index settings in {@code compression_settings.index} (2.22 and later do). */
    private static boolean hasIndexSettings(Connection connection) throws SQLException {
        try (Statement s = connection.createStatement(); ResultSet rs = s.executeQuery("SELECT 1 FROM pg_attribute"
                + " WHERE attrelid = to_regclass('_timescaledb_catalog.compression_settings') AND attname = 'index' AND NOT attisdropped")) {
            return rs.next();
        }
    }

    static boolean hasTimescale(Connection connection) throws SQLException {
        try (Statement s = connection.createStatement();
             ResultSet rs = s.executeQuery("SELECT to_regclass('_timescaledb_catalog.hypertable') IS NOT NULL")) {
            rs.next();
            return rs.getBoolean(1);
        }
    }

    /** Whether {@code table} is a hypertable on this server. */
    static boolean isHypertable(Connection connection, QualifiedName table) throws SQLException {
        if (!hasTimescale(connection)) return false;
        try (PreparedStatement s = connection.prepareStatement("SELECT 1 FROM _timescaledb_catalog.hypertable WHERE schema_name = ? AND table_name = ?")) {
            s.setString(1, table.schema());
            s.setString(2, table.name());
            try (ResultSet rs = s.executeQuery()) {
                return rs.next();
            }
        }
    }

    private static boolean compressionEnabled(Connection connection, QualifiedName table) throws SQLException {
        try (PreparedStatement s = connection.prepareStatement(
                "SELECT compression_enabled FROM timescaledb_information.hypertables WHERE hypertable_schema = ? AND hypertable_name = ?")) {
            s.setString(1, table.schema());
            s.setString(2, table.name());
            try (ResultSet rs = s.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }

    private static String literal(String text) {
        return "'" + text.replace("'", "''") + "'";
    }
}
