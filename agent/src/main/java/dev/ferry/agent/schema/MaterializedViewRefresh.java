package dev.ferry.agent.schema;

import dev.ferry.agent.config.SchemaMap;
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

/**
 * Fills the target's materialized views. A schema-only dump creates them WITH NO DATA and the copy moves only
 * tables, so after post-data every view that is populated on the source is refreshed once on the target, from the
 * rows copied by then. Views already populated on the target (an earlier run did it) are left alone.
 */
final class MaterializedViewRefresh {
    private static final Logger log = LoggerFactory.getLogger("ferry.schema");

    private MaterializedViewRefresh() {}

    static int refresh(Connection source, Connection target, SchemaMap schemaMap) throws SQLException {
        List<QualifiedName> populated = new ArrayList<>();
        try (Statement s = source.createStatement();
             ResultSet rs = s.executeQuery("SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                     + "WHERE c.relkind = 'm' AND c.relispopulated AND n.nspname <> 'ferry' ORDER BY 1, 2")) {
            while (rs.next()) populated.add(schemaMap.target(new QualifiedName(rs.getString(1), rs.getString(2))));
        }
        int refreshed = 0;
        for (QualifiedName view : populated) {
            if (!unpopulatedOn(target, view)) continue;
            long start = System.nanoTime();
            try (Statement s = target.createStatement()) {
                s.execute("REFRESH MATERIALIZED VIEW " + view);
            }
            refreshed++;
            log.info("post-data: refreshed materialized view {} in {}", view, String.format("%.1f s", (System.nanoTime() - start) / 1e9));
        }
        return refreshed;
    }

    private static boolean unpopulatedOn(Connection target, QualifiedName view) throws SQLException {
        try (PreparedStatement ps = target.prepareStatement("SELECT NOT c.relispopulated FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                + "WHERE c.relkind = 'm' AND n.nspname = ? AND c.relname = ?")) {
            ps.setString(1, view.schema());
            ps.setString(2, view.name());
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }

}
