package dev.ferry.agent.preflight;

import dev.ferry.agent.db.PhysicalTable;
import dev.ferry.agent.name.QualifiedName;

import java.sql.SQLException;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;

import static dev.ferry.agent.preflight.CheckFamily.fail;
import static dev.ferry.agent.preflight.CheckFamily.pass;
import static dev.ferry.agent.preflight.CheckFamily.warn;
import static dev.ferry.agent.preflight.PreflightContext.number;

/**
 * How big the copy is, roughly how long it takes (from a short read sample of the largest table) and how much WAL
 * the slot holds meanwhile.
 */
final class SizeEstimate implements CheckFamily {
    /** Enough rows to time a read; more would only delay the copy (ferry runs preflight before every new migration). */
    private static final int SAMPLE_ROWS = 5_000;
    /**
     * Enough bytes to time a read: 5,000 rows of 2-20 kB TOASTed documents are 55 MB, detoasted in about a second
     * before the copy may start, so wide rows are sampled by size instead.
     */
    private static final long SAMPLE_BYTES = 4L << 20;
    /** Assumed copy rate for the WAL-retention estimate, per worker: conservative for a network copy. */
    private static final long COPY_BYTES_PER_SECOND_PER_JOB = 40L * 1024 * 1024;

    @Override
    public List<CheckResult> run(PreflightContext c) throws SQLException {
        long databaseBytes = number(c.source, "SELECT pg_database_size(current_database())");
        List<PhysicalTable> largest = c.tables.stream().flatMap(t -> t.physical().stream())
                .sorted(Comparator.comparingLong(PhysicalTable::dataBytes).reversed()).limit(5).toList();
        String top = largest.stream().map(t -> t.name() + " " + (t.dataBytes() >> 20) + " MB").collect(Collectors.joining(", "));
        long tableBytes = c.tables.stream().flatMap(t -> t.physical().stream()).mapToLong(PhysicalTable::dataBytes).sum();
        String estimate = "";
        if (!largest.isEmpty() && largest.get(0).dataBytes() > 0) {
            long rows = sampleRows(c, largest.get(0));
            long started = System.nanoTime();
            long sampled = number(c.source, "SELECT coalesce(sum(length(t::text)), 0) FROM (SELECT * FROM ONLY " + largest.get(0).name() + " LIMIT " + rows + ") t");
            double seconds = Math.max(1e-3, (System.nanoTime() - started) / 1e9);
            double bytesPerSecond = sampled / seconds;
            int parallel = Math.max(1, Math.min(c.config.jobs(), (int) c.tables.stream().mapToLong(t -> t.physical().size()).sum()));
            if (bytesPerSecond > 0) {
                estimate = String.format("; a read sample ran at %.0f MB/s, so the copy should take about %.0f s with %d workers",
                        bytesPerSecond / (1 << 20), tableBytes / (bytesPerSecond * parallel), parallel);
            }
        }
        return List.of(
                pass("size", String.format("source database %,d MB, tables %,d MB%s; largest: %s", databaseBytes >> 20, tableBytes >> 20, estimate,
                        top.isEmpty() ? "none" : top)),
                walRetention(c, databaseBytes),
                pass("disk-space", String.format("the target's free disk space cannot be read over SQL: make sure it has about %,d MB free"
                        + " (the data plus its indexes), and the source room for the WAL the slot retains", (long) (databaseBytes * 1.2) >> 20)));
    }

    /** Rows of {@code table} making about SAMPLE_BYTES, at most SAMPLE_ROWS; SAMPLE_ROWS for a table never analyzed. */
    private static long sampleRows(PreflightContext c, PhysicalTable table) throws SQLException {
        long estimatedRows = number(c.source, "SELECT reltuples::bigint FROM pg_class WHERE oid = " + QualifiedName.literal(table.name().toString()) + "::regclass");
        if (estimatedRows <= 0) return SAMPLE_ROWS;
        long rowBytes = Math.max(1, table.dataBytes() / estimatedRows);
        return Math.max(1, Math.min(SAMPLE_ROWS, SAMPLE_BYTES / rowBytes));
    }

    /**
     * The slot holds WAL from its creation until the stream catches up after the copy. Run last, so the WAL write
     * rate is sampled over the whole preflight rather than a wait of its own.
     */
    private static CheckResult walRetention(PreflightContext c, long databaseBytes) throws SQLException {
        long walPerSecond = c.walWriteRate.bytesPerSecond(c.source);
        long copySeconds = Math.max(1, databaseBytes / (COPY_BYTES_PER_SECOND_PER_JOB * c.config.jobs()));
        long retained = walPerSecond * copySeconds * 2; // the copy plus index builds, with room to spare
        String estimate = String.format("the copy of %,d MB should take about %d s and retain about %,d MB of WAL at the current write rate (%,d kB/s)",
                databaseBytes >> 20, copySeconds, retained >> 20, walPerSecond >> 10);
        if (c.sourceMajor < 13) return pass("slot-wal-retention", estimate);
        long limitMb = number(c.source, "SELECT setting::bigint FROM pg_settings WHERE name = 'max_slot_wal_keep_size'");
        if (limitMb < 0) {
            return pass("slot-wal-retention", "max_slot_wal_keep_size is unlimited: the slot is never invalidated; " + estimate
                    + ". Watch the source's disk while the migration runs.");
        }
        long limit = limitMb << 20;
        if (retained > limit) {
            return fail("slot-wal-retention", "max_slot_wal_keep_size is " + limitMb + " MB; " + estimate,
                    "when the slot holds more WAL than that, PostgreSQL invalidates it and the migration must start over.",
                    "on the source: ALTER SYSTEM SET max_slot_wal_keep_size = '" + Math.max(retained >> 20, limitMb * 2) + "MB'; SELECT pg_reload_conf(); (or -1 for no limit)");
        }
        return warn("slot-wal-retention", "max_slot_wal_keep_size is " + limitMb + " MB; " + estimate,
                "if writes grow or ferry is stopped for long, the slot may pass the limit and be invalidated.",
                "keep ferry running; raise max_slot_wal_keep_size if the source writes heavily during the copy.");
    }
}
