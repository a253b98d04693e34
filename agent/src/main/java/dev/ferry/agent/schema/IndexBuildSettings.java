package dev.ferry.agent.schema;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;

/**
 * Session settings for index builds on the target, ferry's own during the copy and pg_restore's in post-data. With the default maintenance_work_mem (64 MB) an
 * index on a few million rows sorts on disk; ferry gives each build session a share of the target's shared_buffers
 * instead (a quarter of its memory, if tuned the usual way), so {@code --jobs} builds together use at most as much
 * again, and never less than the target's own setting. Capped at 1 GB, beyond which sorts gain little.
 */
final class IndexBuildSettings {
    private static final long CAP_BYTES = 1L << 30;

    private IndexBuildSettings() {}

    /** {@code PGOPTIONS} for pg_restore, keeping any the user set in ferry's environment. */
    static Map<String, String> environment(Connection target, int sessions) throws SQLException {
        long bytes = maintenanceWorkMem(target, sessions);
        String options = "-c maintenance_work_mem=" + (bytes >> 10) + "kB";
        String inherited = System.getenv("PGOPTIONS"); // the user's own session settings for libpq tools, kept first
        return Map.of("PGOPTIONS", inherited == null || inherited.isBlank() ? options : inherited + " " + options);
    }

    static long maintenanceWorkMem(Connection target, int sessions) throws SQLException {
        try (Statement s = target.createStatement();
             ResultSet rs = s.executeQuery("SELECT pg_size_bytes(current_setting('shared_buffers')), pg_size_bytes(current_setting('maintenance_work_mem'))")) {
            rs.next();
            long share = Math.min(CAP_BYTES, rs.getLong(1) / Math.max(1, sessions));
            return Math.max(rs.getLong(2), share);
        }
    }
}
