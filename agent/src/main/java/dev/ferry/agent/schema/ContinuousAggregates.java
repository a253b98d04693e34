package dev.ferry.agent.schema;

import dev.ferry.agent.FerryException;
import dev.ferry.agent.name.QualifiedName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * TimescaleDB's continuous aggregates, made again on the target from their definitions rather than restored: pg_dump
 * writes each as a plain view over its materialized hypertable, which lives in TimescaleDB's schemas and is not
 * copied. Once its hypertable is copied ({@link EarlyAggregateRefreshes}), or after the copy, each is created
 * {@code WITH NO DATA} on the target and refreshed there from the copied rows;
 * the cutover refreshes them again, so they answer as the aggregate of the data the target holds. Their materialized
 * rows are never copied or streamed (the stream ignores their chunks).
 */
public final class ContinuousAggregates {
    private static final Logger log = LoggerFactory.getLogger("ferry.schema");

    /**
     * In creation order, so an aggregate on another aggregate comes after it. The query is the direct view's (the
     * user's view reads the materialized hypertable).
     */
    private static final String AGGREGATES = """
            SELECT ca.user_view_schema, ca.user_view_name, ca.materialized_only, pg_get_viewdef(format('%I.%I', ca.direct_view_schema, ca.direct_view_name)::regclass),
                   h.schema_name, h.table_name
            FROM _timescaledb_catalog.continuous_agg ca JOIN _timescaledb_catalog.hypertable h ON h.id = ca.raw_hypertable_id
            ORDER BY ca.mat_hypertable_id""";

    /** @param hypertable the hypertable it aggregates (for an aggregate on an aggregate, the other's materialized one) */
    record Aggregate(QualifiedName name, boolean materializedOnly, String definition, QualifiedName hypertable) {}

    private ContinuousAggregates() {}

    /** The OIDs of the source's continuous aggregates' views: pre-data leaves them out. */
    static Set<Long> viewOids(Connection source) throws SQLException {
        Set<Long> oids = new HashSet<>();
        if (!Hypertables.hasTimescale(source)) return oids;
        try (Statement s = source.createStatement();
             ResultSet rs = s.executeQuery("SELECT format('%I.%I', user_view_schema, user_view_name)::regclass::oid FROM _timescaledb_catalog.continuous_agg")) {
            while (rs.next()) oids.add(rs.getLong(1));
        }
        return oids;
    }

    /** Creates on the target each aggregate it lacks and refreshes it from the copied rows; returns how many were created. */
    public static int create(Connection source, Connection target) throws SQLException {
        if (!Hypertables.hasTimescale(source) || !Hypertables.hasTimescale(target)) return 0;
        int created = 0;
        for (Aggregate aggregate : read(source)) {
            if (create(target, aggregate)) created++;
        }
        return created;
    }

    /** Creates {@code aggregate} on the target unless it is there, and refreshes it from the copied rows; whether it did. */
    static boolean create(Connection target, Aggregate aggregate) throws SQLException {
        long start = System.nanoTime();
        if (!createEmpty(target, aggregate)) return false;
        refresh(target, aggregate, null);
        log.info("continuous aggregates: created and refreshed {} on the target in {} s", aggregate.name(),
                String.format("%.1f", (System.nanoTime() - start) / 1e9));
        return true;
    }

    /** Creates {@code aggregate} on the target {@code WITH NO DATA} unless it is there; whether it did. */
    static boolean createEmpty(Connection target, Aggregate aggregate) throws SQLException {
        if (exists(target, aggregate.name())) return false;
        try (Statement s = target.createStatement()) {
            // The definition was read with an empty search_path: every name in it is schema-qualified.
            s.execute("CREATE MATERIALIZED VIEW " + aggregate.name() + " WITH (timescaledb.continuous, timescaledb.materialized_only = "
                    + aggregate.materializedOnly() + ") AS " + stripSemicolon(aggregate.definition()) + " WITH NO DATA");
        }
        return true;
    }

    /**
     * Refreshes {@code aggregate} from the rows on the target before {@code end} (a literal of its time column's type),
     * or all of them for null. TimescaleDB materializes only the buckets not materialized yet, so refreshing up to a
     * later end after an earlier one aggregates each row once.
     *
     * <p>An aggregate's refresh aggregates rows in one query, a sort or hash over all of them: with the default
     * work_mem (4 MB) it spills to disk. It runs like a maintenance command, so it gets the target's
     * maintenance_work_mem when that is larger (bench timescale shape, scale 10, on a loaded 2-core machine: 2.4-3.2 s
     * with 256 MB against 3.4-6.0 s with 4 MB, three tries each).
     */
    static void refresh(Connection target, Aggregate aggregate, String end) throws SQLException {
        try (Statement s = target.createStatement()) {
            s.execute("SELECT set_config('work_mem', greatest(pg_size_bytes(current_setting('work_mem')),"
                    + " pg_size_bytes(current_setting('maintenance_work_mem'))) / 1024 || 'kB', false)");
            try {
                s.execute("CALL public.refresh_continuous_aggregate('" + aggregate.name().toString().replace("'", "''") + "', NULL, "
                        + (end == null ? "NULL" : end) + ")");
            } catch (SQLException e) {
                if (e.getMessage() != null && e.getMessage().contains("materialization_ranges")) throw leftRange(aggregate, e);
                throw e;
            } finally {
                s.execute("RESET work_mem");
            }
        }
    }

    /**
     * TimescaleDB 2.25 records each refresh's range in a transaction of its own before it materializes; a refresh
     * interrupted after that (cancelled, or its server stopped) leaves the row, and every later refresh whose range
     * overlaps it fails until the row is deleted. ferry never cancels its own refreshes (EarlyAggregateRefreshes).
     */
    private static FerryException leftRange(Aggregate aggregate, SQLException e) {
        String view = aggregate.name().toString();
        return new FerryException("the continuous aggregate " + view + " cannot be refreshed on the target.",
                e.getMessage() + " TimescaleDB keeps the range of a refresh that was interrupted (cancelled, or the target server stopped)"
                        + " in _timescaledb_catalog.continuous_aggs_materialization_ranges, and refuses every refresh overlapping it.",
                "make sure no refresh of " + view + " runs on the target (pg_stat_activity), then, on the target, as a superuser: "
                        + "DELETE FROM _timescaledb_catalog.continuous_aggs_materialization_ranges WHERE materialization_id = "
                        + "(SELECT mat_hypertable_id FROM _timescaledb_catalog.continuous_agg WHERE user_view_schema = "
                        + QualifiedName.literal(aggregate.name().schema()) + " AND user_view_name = " + QualifiedName.literal(aggregate.name().name())
                        + "); then run the same ferry command again: the refresh materializes that range too.", e);
    }

    /** At the cutover: refreshes every aggregate on the target over all its data. */
    public static int refresh(Connection source, Connection target) throws SQLException {
        if (!Hypertables.hasTimescale(source) || !Hypertables.hasTimescale(target)) return 0;
        int refreshed = 0;
        for (Aggregate aggregate : read(source)) {
            if (!exists(target, aggregate.name())) continue;
            refresh(target, aggregate, null);
            refreshed++;
        }
        if (refreshed > 0) log.info("continuous aggregates: refreshed {} on the target for the cutover", refreshed);
        return refreshed;
    }

    static List<Aggregate> read(Connection source) throws SQLException {
        List<Aggregate> aggregates = new ArrayList<>();
        try (Statement s = source.createStatement()) {
            s.execute("SET search_path = ''");
            try (ResultSet rs = s.executeQuery(AGGREGATES)) {
                while (rs.next()) aggregates.add(new Aggregate(new QualifiedName(rs.getString(1), rs.getString(2)), rs.getBoolean(3), rs.getString(4),
                        new QualifiedName(rs.getString(5), rs.getString(6))));
            } finally {
                s.execute("RESET search_path");
            }
        }
        return aggregates;
    }

    private static boolean exists(Connection target, QualifiedName view) throws SQLException {
        try (PreparedStatement s = target.prepareStatement("SELECT 1 FROM _timescaledb_catalog.continuous_agg WHERE user_view_schema = ? AND user_view_name = ?")) {
            s.setString(1, view.schema());
            s.setString(2, view.name());
            try (ResultSet rs = s.executeQuery()) {
                return rs.next();
            }
        }
    }

    private static String stripSemicolon(String definition) {
        String trimmed = definition.strip();
        return trimmed.endsWith(";") ? trimmed.substring(0, trimmed.length() - 1) : trimmed;
    }
}
