package dev.ferry.agent.preflight;

import dev.ferry.agent.db.PhysicalTable;

import java.sql.SQLException;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;

import static dev.ferry.agent.preflight.CheckFamily.pass;
import static dev.ferry.agent.preflight.PreflightContext.number;

/** How big the copy is and roughly how long it takes, from a short read sample of the largest table. */
final class SizeEstimate implements CheckFamily {
    private static final int SAMPLE_ROWS = 20_000;

    @Override
    public List<CheckResult> run(PreflightContext c) throws SQLException {
        long databaseBytes = number(c.source, "SELECT pg_database_size(current_database())");
        List<PhysicalTable> largest = c.tables.stream().flatMap(t -> t.physical().stream())
                .sorted(Comparator.comparingLong(PhysicalTable::dataBytes).reversed()).limit(5).toList();
        String top = largest.stream().map(t -> t.name() + " " + (t.dataBytes() >> 20) + " MB").collect(Collectors.joining(", "));
        long tableBytes = c.tables.stream().flatMap(t -> t.physical().stream()).mapToLong(PhysicalTable::dataBytes).sum();
        String estimate = "";
        if (!largest.isEmpty() && largest.get(0).dataBytes() > 0) {
            long started = System.nanoTime();
            long sampled = number(c.source, "SELECT coalesce(sum(length(t::text)), 0) FROM (SELECT * FROM ONLY " + largest.get(0).name() + " LIMIT " + SAMPLE_ROWS + ") t");
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
                pass("disk-space", String.format("the target's free disk space cannot be read over SQL: make sure it has about %,d MB free"
                        + " (the data plus its indexes), and the source room for the WAL the slot retains", (long) (databaseBytes * 1.2) >> 20)));
    }
}
