package dev.ferry.agent.schema;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;

/**
 * Shares one memory budget, the target's shared_buffers, among the index builds that run at once during the copy,
 * each build getting what its sort needs. A sort that does not fit its maintenance_work_mem spills to disk and merges
 * (an index on 4.4 million integers took 2.1 s with 256 MB, 1.7 s with the 370 MB it needed); an even split of the
 * budget gives a small index memory it never touches while a big one spills.
 *
 * <p>A build's need is estimated from its index on the source: a B-tree sort holds each entry with about three times
 * its size in overhead, so four times the source index (a bloated one only asks for more than it needs). A build
 * never gets less than the target's own maintenance_work_mem, which its DBA already allows every session; the rest
 * of the budget goes to builds in the order they start, and is given back when they finish.
 *
 * <p>pg_restore's {@code --jobs} sessions in post-data share the budget evenly instead ({@link #pgRestoreEnvironment}),
 * since ferry cannot tell which of them builds what; with the default maintenance_work_mem (64 MB) an index on a few
 * million rows would sort on disk.
 */
final class IndexBuildMemory {
    private static final long SORT_BYTES_PER_INDEX_BYTE = 4;
    /**
     * PostgreSQL refuses 2 GB or more on some platforms; a sort bigger than this spills in a few long runs, which
     * merge cheaply compared with the many short ones of a small setting.
     */
    private static final long MAX_GRANT = 1536L << 20;

    private final long budget;
    private final long floor;
    private long granted;

    IndexBuildMemory(long budget, long floor) {
        this.floor = floor;
        this.budget = Math.max(budget, floor);
    }

    /** The budget of {@code target}: its shared_buffers, never less than its maintenance_work_mem. */
    static IndexBuildMemory of(Connection target) throws SQLException {
        try (Statement s = target.createStatement();
             ResultSet rs = s.executeQuery("SELECT pg_size_bytes(current_setting('shared_buffers')), pg_size_bytes(current_setting('maintenance_work_mem'))")) {
            rs.next();
            return new IndexBuildMemory(rs.getLong(1), rs.getLong(2));
        }
    }

    /** Takes memory for a build whose source index has {@code sourceIndexBytes}; give it back with {@link #release}. */
    synchronized long take(long sourceIndexBytes) {
        long need = Math.min(MAX_GRANT, sourceIndexBytes * SORT_BYTES_PER_INDEX_BYTE);
        long grant = Math.max(floor, Math.min(need, budget - granted));
        granted += grant;
        return grant;
    }

    synchronized void release(long grant) {
        granted -= grant;
    }

    /** What each of {@code sessions} gets when nothing tells their builds apart. */
    long evenShare(int sessions) {
        return Math.max(floor, Math.min(MAX_GRANT, budget / Math.max(1, sessions)));
    }

    /** {@code PGOPTIONS} giving each of pg_restore's {@code sessions} an even share; keeps any the user set for libpq tools. */
    Map<String, String> pgRestoreEnvironment(int sessions) {
        String options = "-c maintenance_work_mem=" + (evenShare(sessions) >> 10) + "kB";
        String inherited = System.getenv("PGOPTIONS"); // the user's own session settings, kept first
        return Map.of("PGOPTIONS", inherited == null || inherited.isBlank() ? options : inherited + " " + options);
    }
}
