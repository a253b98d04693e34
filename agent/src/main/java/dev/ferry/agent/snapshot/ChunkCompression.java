package dev.ferry.agent.snapshot;

import dev.ferry.agent.db.Database;
import dev.ferry.agent.db.PhysicalTable;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * After the copy, compresses each target chunk whose source chunk is compressed. The copy reads compressed chunks
 * through TimescaleDB (rows come back decompressed) and the target's TimescaleDB puts them into chunks of its own,
 * uncompressed; chunks on the two servers have their own names and ids, so a target chunk is matched to the source's by
 * what defines it: its hypertable and its range in every dimension (column, range start, range end), the same on both
 * sides because the dimensions are ({@code Hypertables}). Safe to run again: compressed chunks are skipped.
 */
public final class ChunkCompression {
    private static final Logger log = LoggerFactory.getLogger("ferry.snapshot");

    /** Each chunk of one hypertable with its dimension ranges as one text key, and whether it is compressed. */
    private static final String CHUNKS = """
            SELECT format('%I.%I', c.schema_name, c.table_name),
                   string_agg(format('%s:%s:%s', d.column_name, s.range_start, s.range_end), ',' ORDER BY d.column_name),
                   c.compressed_chunk_id IS NOT NULL
            FROM _timescaledb_catalog.hypertable h
            JOIN _timescaledb_catalog.chunk c ON c.hypertable_id = h.id AND NOT c.dropped
            JOIN _timescaledb_catalog.chunk_constraint cc ON cc.chunk_id = c.id
            JOIN _timescaledb_catalog.dimension_slice s ON s.id = cc.dimension_slice_id
            JOIN _timescaledb_catalog.dimension d ON d.id = s.dimension_id
            WHERE h.schema_name = ? AND h.table_name = ?
            GROUP BY c.id, c.schema_name, c.table_name, c.compressed_chunk_id""";

    private ChunkCompression() {}

    /**
     * Compresses the target's chunks of every copied hypertable that are compressed on the source, {@code jobs} chunks
     * at a time, each on its own connection; returns how many.
     */
    public static int compress(Connection source, Database target, List<PhysicalTable> tables, int jobs) throws SQLException {
        if (tables.stream().noneMatch(PhysicalTable::hypertable)) return 0;
        List<String> todo = new ArrayList<>();
        try (Connection planning = target.open()) {
            for (PhysicalTable table : tables) {
                if (!table.hypertable()) continue;
                Set<String> compressedOnSource = new HashSet<>();
                for (Chunk chunk : chunks(source, table.name())) if (chunk.compressed()) compressedOnSource.add(chunk.ranges());
                if (compressedOnSource.isEmpty()) continue;
                List<String> missing = new ArrayList<>(compressedOnSource);
                for (Chunk chunk : chunks(planning, table.name())) {
                    if (!compressedOnSource.contains(chunk.ranges())) continue;
                    missing.remove(chunk.ranges());
                    if (!chunk.compressed()) todo.add(chunk.name());
                }
                if (!missing.isEmpty()) log.info("compression: {} compressed chunks of {} on the source have no rows on the target: {}", missing.size(), table.name(), missing);
            }
        }
        if (todo.isEmpty()) return 0;
        long started = System.nanoTime();
        ConcurrentLinkedQueue<String> queue = new ConcurrentLinkedQueue<>(todo);
        ExecutorService threads = Executors.newFixedThreadPool(Math.max(1, Math.min(jobs, todo.size())), new ThreadFactory() {
            private final AtomicInteger next = new AtomicInteger();

            @Override
            public Thread newThread(Runnable task) {
                Thread thread = new Thread(task, "ferry-compress-" + next.incrementAndGet());
                thread.setDaemon(true);
                return thread;
            }
        });
        try {
            List<Future<Void>> workers = new ArrayList<>();
            for (int i = 0; i < Math.max(1, Math.min(jobs, todo.size())); i++) {
                workers.add(threads.submit(() -> {
                    try (Connection connection = target.open(); Statement s = connection.createStatement()) {
                        for (String chunk = queue.poll(); chunk != null; chunk = queue.poll()) compress(s, chunk);
                    }
                    return null;
                }));
            }
            for (Future<Void> worker : workers) worker.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SQLException("interrupted while compressing chunks on the target", "57014", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof SQLException sql) throw sql;
            throw new SQLException("compressing chunks on the target failed: " + e.getCause(), "XX000", e.getCause());
        } finally {
            threads.shutdownNow();
        }
        log.info("compression: compressed {} chunks on the target with {} jobs in {} s, as on the source", todo.size(), Math.min(jobs, todo.size()),
                String.format("%.1f", (System.nanoTime() - started) / 1e9));
        return todo.size();
    }

    /**
     * Compresses one target chunk. A chunk that a foreign key points into (from a plain table to the hypertable, made by
     * post-data before this runs) cannot be emptied by TRUNCATE, the way TimescaleDB ends a compression by default
     * ("found a FK into a chunk while truncating"): that chunk is compressed again with the emptied rows deleted
     * instead ({@code compress_truncate_behaviour = truncate_disabled}); vacuum reclaims them later.
     */
    private static void compress(Statement s, String chunk) throws SQLException {
        String sql = "SELECT public.compress_chunk('" + chunk.replace("'", "''") + "'::regclass, if_not_compressed => true)";
        try {
            s.execute(sql);
        } catch (SQLException e) {
            if (e.getMessage() == null || !e.getMessage().contains("FK into a chunk")) throw e;
            s.execute("SET timescaledb.compress_truncate_behaviour = truncate_disabled");
            try {
                s.execute(sql);
            } finally {
                s.execute("RESET timescaledb.compress_truncate_behaviour");
            }
        }
    }

    record Chunk(String name, String ranges, boolean compressed) {}

    static List<Chunk> chunks(Connection connection, QualifiedName hypertable) throws SQLException {
        Map<String, Chunk> chunks = new LinkedHashMap<>();
        try (PreparedStatement s = connection.prepareStatement(CHUNKS)) {
            s.setString(1, hypertable.schema());
            s.setString(2, hypertable.name());
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) chunks.put(rs.getString(1), new Chunk(rs.getString(1), rs.getString(2), rs.getBoolean(3)));
            }
        }
        return new ArrayList<>(chunks.values());
    }
}
