package dev.ferry.agent.verify;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.db.Database;
import dev.ferry.agent.config.TableFilter;
import dev.ferry.agent.name.QualifiedName;
import dev.ferry.agent.db.WalPosition;
import dev.ferry.agent.config.SchemaMap;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.agent.state.StateStore;
import dev.ferry.replication.Lsn;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code ferry verify}: compares every table of the source with the target, key range by key range in parallel,
 * by row count and an order-independent checksum, and shows the rows that differ. While a migration streams, rows
 * in flight are told from real differences (see {@link #compare}). Sequences are compared once the migration is done. Called from one thread; the
 * ranges are compared on {@code jobs} threads named {@code ferry-verify-N}, each with its own two connections.
 */
public final class Verification {
    private static final Logger log = LoggerFactory.getLogger("ferry.verify");
    private static final int ROWS_SHOWN = 5;

    /**
     * @param attempts how many times a differing range is read while the migration streams
     * @param catchUp  how long to wait each time for the target to apply what the source had
     * @param rangeBytes about how much of a big table's heap one key range covers
     */
    public record Options(int jobs, TableFilter tables, int attempts, Duration catchUp, long rangeBytes) {
        /** Every table but exactly {@code excluded}. */
        public Options(int jobs, Set<QualifiedName> excluded, int attempts, Duration catchUp, long rangeBytes) {
            this(jobs, TableFilter.excluding(excluded), attempts, catchUp, rangeBytes);
        }
    }

    private final Database source;
    private final Database target;
    private final Options options;
    private final StateStore state;
    private final SchemaMap schemaMap;

    public Verification(Database source, Database target, Options options) {
        this(source, target, options, new StateStore(), SchemaMap.NONE);
    }

    /**
     * @param state     the migration whose stream verify waits for, when several share the target database
     * @param schemaMap where each source table is on the target (--schema-map)
     */
    public Verification(Database source, Database target, Options options, StateStore state, SchemaMap schemaMap) {
        this.source = source;
        this.target = target;
        this.options = options;
        this.state = state;
        this.schemaMap = schemaMap;
    }

    public VerifyReport run(PrintWriter out) {
        long start = System.nanoTime();
        try (Connection src = open(source); Connection dst = open(target)) {
            boolean streaming = streaming(dst);
            List<ComparedTable> tables = ComparedTable.list(src, options.tables());
            Set<QualifiedName> onTarget = names(ComparedTable.list(dst, options.tables(), schemaMap::source));
            if (!schemaMap.isEmpty() || !state.schema().equals(StateStore.SCHEMA)) {
                // A target shared by several migrations: only the schemas this source lands in are its to compare.
                Set<String> ours = tables.stream().map(t -> schemaMap.target(t.name().schema())).collect(Collectors.toSet());
                onTarget.removeIf(name -> !ours.contains(name.schema()));
            }
            Set<QualifiedName> sourceOnTarget = new TreeSet<>();
            tables.forEach(t -> sourceOnTarget.add(schemaMap.target(t.name())));
            List<String> other = new ArrayList<>(missingTables(sourceOnTarget, onTarget));
            List<TableResult> results = compareTables(src, tables.stream().filter(t -> onTarget.contains(schemaMap.target(t.name()))).toList(), streaming, out);
            if (streaming) {
                out.println("verify: sequences are set at the cutover; not compared while the migration streams");
            } else {
                other.addAll(SequenceCheck.differences(src, dst, options.tables(), schemaMap));
            }
            VerifyReport report = new VerifyReport(results, other, streaming, (System.nanoTime() - start) / 1e9);
            report.print(out);
            return report;
        } catch (SQLException e) {
            throw new FerryException("verify could not read the catalogs:", e.getMessage() + " (SQLSTATE " + e.getSQLState() + ")",
                    "check that both servers are reachable and the users may read the tables, then run `ferry verify` again.", e);
        }
    }

    private List<TableResult> compareTables(Connection src, List<ComparedTable> tables, boolean streaming, PrintWriter out) throws SQLException {
        AtomicInteger threads = new AtomicInteger();
        ExecutorService workers = Executors.newFixedThreadPool(options.jobs(), task -> {
            Thread thread = new Thread(task, "ferry-verify-" + threads.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        });
        ConcurrentLinkedQueue<Sessions> opened = new ConcurrentLinkedQueue<>();
        ThreadLocal<Sessions> sessions = ThreadLocal.withInitial(() -> {
            Sessions pair = new Sessions(open(source), open(target));
            opened.add(pair);
            return pair;
        });
        try {
            List<List<CompletableFuture<RangeResult>>> pending = new ArrayList<>();
            for (ComparedTable table : tables) {
                List<CompletableFuture<RangeResult>> ranges = new ArrayList<>();
                for (KeyRange range : KeyRanges.plan(src, table, options.rangeBytes())) {
                    ranges.add(CompletableFuture.supplyAsync(() -> compare(sessions.get(), table, range, streaming), workers));
                }
                pending.add(ranges);
            }
            List<TableResult> results = new ArrayList<>();
            for (int i = 0; i < tables.size(); i++) {
                TableResult result = combine(tables.get(i), join(pending.get(i)));
                print(result, out);
                results.add(result);
            }
            return results;
        } finally {
            workers.shutdownNow();
            opened.forEach(Sessions::close);
        }
    }

    /**
     * One range. After a migration it is read once on each side. While the migration streams, the source is read, the
     * target once it has applied everything the source had then, and the source again: if the source did not change
     * meanwhile, the target must equal it, so a difference is real; if it changed, rows were in flight and the range is
     * read again, up to the attempts allowed, after which it is reported as not settled rather than as different.
     */
    private RangeResult compare(Sessions sessions, ComparedTable table, KeyRange range, boolean streaming) {
        try {
            int attempts = streaming ? options.attempts() : 1;
            for (int attempt = 1; ; attempt++) {
                RangeDigest onSource = RangeDigest.read(sessions.source(), table, range);
                if (streaming) awaitApplied(sessions.target(), WalPosition.current(sessions.source()));
                RangeDigest onTarget = RangeDigest.read(sessions.target(), table.on(schemaMap), range);
                if (onSource.equals(onTarget)) return new RangeResult(onSource.rows(), onTarget.rows(), attempt - 1, List.of(), false);
                boolean settled = !streaming || onSource.equals(RangeDigest.read(sessions.source(), table, range));
                if (settled) return new RangeResult(onSource.rows(), onTarget.rows(), attempt - 1, differences(sessions, table, range, onSource, onTarget), false);
                if (attempt == attempts) {
                    return new RangeResult(onSource.rows(), onTarget.rows(), attempt - 1, List.of("table " + table.name() + where(range)
                            + ": not settled: its rows changed on the source during each of " + attempts + " attempts"), true);
                }
            }
        } catch (SQLException e) {
            if (e.getSQLState() != null && e.getSQLState().startsWith("08")) {
                throw new CompletionException(new FerryException("verify lost its connection while comparing " + table.name() + ":",
                        e.getMessage(), "check that both servers are reachable, then run `ferry verify` again.", ExitCode.UNREACHABLE, e));
            }
            // A column missing on the target, a type that differs: the table differs, and the server says how.
            return new RangeResult(0, 0, 0, List.of("table " + table.name() + ": could not be compared: " + e.getMessage()), false);
        }
    }

    private List<String> differences(Sessions sessions, ComparedTable table, KeyRange range, RangeDigest onSource, RangeDigest onTarget)
            throws SQLException {
        String from = table.from() + " " + RangeDigest.ALIAS + range.where(RangeDigest.ALIAS, table.rangeKey());
        String targetFrom = table.on(schemaMap).from() + " " + RangeDigest.ALIAS + range.where(RangeDigest.ALIAS, table.rangeKey());
        List<String> differences = new ArrayList<>();
        differences.add("table " + table.name() + where(range) + ": " + onSource.rows() + " rows on the source, " + onTarget.rows()
                + " on the target" + (onSource.rows() == onTarget.rows() ? ", contents differ" : ""));
        differences.addAll(RowDifferences.find(table.name(), table.rowText(RangeDigest.ALIAS), from, targetFrom, sessions.source(), sessions.target(), ROWS_SHOWN));
        return differences;
    }

    private static String where(KeyRange range) {
        return range.equals(KeyRange.WHOLE) ? "" : " (" + range + ")";
    }

    private record RangeResult(long sourceRows, long targetRows, int reread, List<String> differences, boolean unsettled) {}

    private static TableResult combine(ComparedTable table, List<RangeResult> ranges) {
        long sourceRows = 0;
        long targetRows = 0;
        int reread = 0;
        boolean unsettled = false;
        List<String> differences = new ArrayList<>();
        for (RangeResult range : ranges) {
            sourceRows += range.sourceRows();
            targetRows += range.targetRows();
            reread += range.reread();
            unsettled |= range.unsettled();
            differences.addAll(range.differences());
        }
        return new TableResult(table.name(), sourceRows, targetRows, ranges.size(), reread, unsettled, differences);
    }

    private static void print(TableResult result, PrintWriter out) {
        out.printf("  %-8s %s: %,d rows%s%n", result.identical() ? "ok" : result.unsettled() ? "CHANGING" : "DIFFERS", result.table(), result.sourceRows(),
                result.ranges() > 1 ? " in " + result.ranges() + " key ranges" : "");
        result.differences().forEach(d -> out.println("           " + d));
        out.flush();
        if (!result.identical()) log.warn("{} differs: {}", result.table(), String.join("; ", result.differences()));
    }

    private static List<RangeResult> join(List<CompletableFuture<RangeResult>> ranges) {
        List<RangeResult> results = new ArrayList<>();
        for (CompletableFuture<RangeResult> range : ranges) {
            try {
                results.add(range.join());
            } catch (CompletionException e) {
                if (e.getCause() instanceof RuntimeException failure) throw failure;
                throw e;
            }
        }
        return results;
    }

    /** Whether a migration is following the source into this target right now (its rows may be in flight). */
    private boolean streaming(Connection dst) throws SQLException {
        Optional<MigrationState> migration = state.load(dst);
        return migration.isPresent() && migration.get().phase() != MigrationState.Phase.DONE;
    }

    /** Waits, up to the catch-up time, for the agent to have applied everything the source had written at {@code lsn}. */
    private void awaitApplied(Connection dst, Lsn lsn) throws SQLException {
        long deadline = System.nanoTime() + options.catchUp().toNanos();
        while (System.nanoTime() < deadline) {
            Optional<MigrationState> migration = state.load(dst);
            if (migration.isEmpty() || !migration.get().appliedLsn().isBefore(lsn)) return;
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private static List<String> missingTables(Set<QualifiedName> sourceNames, Set<QualifiedName> targetNames) {
        List<String> missing = new ArrayList<>();
        sourceNames.stream().filter(n -> !targetNames.contains(n)).forEach(n -> missing.add("table " + n + " exists only on the source"));
        targetNames.stream().filter(n -> !sourceNames.contains(n)).forEach(n -> missing.add("table " + n + " exists only on the target"));
        return missing;
    }

    private static Set<QualifiedName> names(List<ComparedTable> tables) {
        Set<QualifiedName> names = new TreeSet<>();
        tables.forEach(t -> names.add(t.name()));
        return names;
    }

    /** A verification connection: both sides print values alike whatever the servers' own settings are. */
    private static Connection open(Database database) {
        Connection connection = database.open();
        try (Statement s = connection.createStatement()) {
            // money prints by lc_monetary, which may differ between the servers; C prints the same amount the same way.
            s.execute("SET lc_monetary = 'C'; SET statement_timeout = 0");
            return connection;
        } catch (SQLException e) {
            try {
                connection.close();
            } catch (SQLException closing) {
                e.addSuppressed(closing);
            }
            throw new FerryException("verify could not prepare its session on the " + database.role() + ":", e.getMessage(),
                    "check the server's log for the reason, then run `ferry verify` again.", e);
        }
    }

    private record Sessions(Connection source, Connection target) {
        void close() {
            try (Connection s = source; Connection t = target) {
                log.debug("verify: closing the sessions of {}", Thread.currentThread().getName());
            } catch (SQLException e) {
                log.debug("verify: closing a session failed after the work was done", e);
            }
        }
    }
}
