package dev.ferry.agent.snapshot;

import dev.ferry.agent.config.SchemaMap;
import dev.ferry.agent.db.Database;
import dev.ferry.agent.db.SourceTable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

/**
 * Planner statistics for the copied tables on the target. A freshly loaded table has none until autovacuum gets to
 * it, and the application's first queries after the cutover would be planned blind. ferry runs ANALYZE on each table
 * once the copy is done, in the background (thread {@code ferry-analyze}, one connection) while the stream catches
 * up, so it costs no downtime. ANALYZE takes a lock that DML does not wait for. If ferry stops before it finishes,
 * autovacuum does the rest.
 */
public final class TargetStatistics {
    private static final Logger log = LoggerFactory.getLogger("ferry.snapshot");

    private TargetStatistics() {}

    public static Thread analyzeInBackground(Database target, List<SourceTable> tables, SchemaMap schemaMap) {
        Thread thread = new Thread(() -> analyze(target, tables, schemaMap), "ferry-analyze");
        thread.setDaemon(true);
        thread.start();
        return thread;
    }

    private static void analyze(Database target, List<SourceTable> tables, SchemaMap schemaMap) {
        MDC.put("stage", "snapshot");
        long start = System.nanoTime();
        int done = 0;
        try (Connection c = target.open(); Statement s = c.createStatement()) {
            s.execute("SET statement_timeout = 0");
            for (SourceTable table : tables) {
                // A partitioned table's ANALYZE covers its partitions too.
                s.execute("ANALYZE " + schemaMap.target(table.name()));
                done++;
            }
            log.info("analyze: gathered planner statistics for {} tables on the target in {} s", done,
                    String.format("%.1f", (System.nanoTime() - start) / 1e9));
        } catch (SQLException | RuntimeException e) {
            log.warn("analyze: stopped after {} of {} tables ({}); autovacuum gathers the rest, or run ANALYZE on the target before the cutover",
                    done, tables.size(), e.getMessage());
        } finally {
            MDC.remove("stage");
        }
    }
}
