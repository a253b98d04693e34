package dev.ferry.agent.schema;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.Map;

/**
 * Session settings for pg_restore's index builds in post-data. With the default maintenance_work_mem (64 MB) an index
 * on a few million rows sorts on disk; pg_restore's {@code --jobs} sessions share the target's memory budget
 * ({@link IndexBuildMemory}) evenly instead, since ferry cannot tell which of them builds what.
 */
final class IndexBuildSettings {
    private IndexBuildSettings() {}

    /** {@code PGOPTIONS} for pg_restore, keeping any the user set in ferry's environment. */
    static Map<String, String> environment(Connection target, int sessions) throws SQLException {
        long bytes = IndexBuildMemory.of(target).evenShare(sessions);
        String options = "-c maintenance_work_mem=" + (bytes >> 10) + "kB";
        String inherited = System.getenv("PGOPTIONS"); // the user's own session settings for libpq tools, kept first
        return Map.of("PGOPTIONS", inherited == null || inherited.isBlank() ? options : inherited + " " + options);
    }
}
