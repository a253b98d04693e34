package dev.ferry.agent.schema;

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
 * copied. After the copy, each is created {@code WITH NO DATA} on the target and refreshed there from the copied rows;
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
            SELECT ca.user_view_schema, ca.user_view_name, ca.materialized_only, pg_get_viewdef(format('%I.%I', ca.direct_view_schema, ca.direct_view_name)::regclass)
            FROM _timescaledb_catalog.continuous_agg ca ORDER BY ca.mat_hypertable_id""";

    record Aggregate(QualifiedName name, boolean materializedOnly, String definition) {}

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
            if (exists(target, aggregate.name())) continue;
            long start = System.nanoTime();
            try (Statement s = target.createStatement()) {
                // The definition was read with an empty search_path: every name in it is schema-qualified.
                s.execute("CREATE MATERIALIZED VIEW " + aggregate.name() + " WITH (timescaledb.continuous, timescaledb.materialized_only = "
                        + aggregate.materializedOnly() + ") AS " + stripSemicolon(aggregate.definition()) + " WITH NO DATA");
                s.execute("CALL public.refresh_continuous_aggregate('" + aggregate.name().toString().replace("'", "''") + "', NULL, NULL)");
            }
            log.info("continuous aggregates: created and refreshed {} on the target in {} s", aggregate.name(),
                    String.format("%.1f", (System.nanoTime() - start) / 1e9));
            created++;
        }
        return created;
    }

    /** At the cutover: refreshes every aggregate on the target over all its data. */
    public static int refresh(Connection source, Connection target) throws SQLException {
        if (!Hypertables.hasTimescale(source) || !Hypertables.hasTimescale(target)) return 0;
        int refreshed = 0;
        for (Aggregate aggregate : read(source)) {
            if (!exists(target, aggregate.name())) continue;
            try (Statement s = target.createStatement()) {
                s.execute("CALL public.refresh_continuous_aggregate('" + aggregate.name().toString().replace("'", "''") + "', NULL, NULL)");
            }
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
                while (rs.next()) aggregates.add(new Aggregate(new QualifiedName(rs.getString(1), rs.getString(2)), rs.getBoolean(3), rs.getString(4)));
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
