package dev.ferry.agent.verify;

import java.io.PrintWriter;
import java.util.List;

/**
 * What {@code ferry verify} found: every compared table, differences outside tables (a table or sequence missing
 * on one side, a sequence behind), and whether a migration was streaming while it ran.
 */
public record VerifyReport(List<TableResult> tables, List<String> otherDifferences, boolean streaming, double seconds) {
    public VerifyReport {
        tables = List.copyOf(tables);
        otherDifferences = List.copyOf(otherDifferences);
    }

    public boolean identical() {
        return otherDifferences.isEmpty() && tables.stream().allMatch(TableResult::identical);
    }

    /** Tables found different (not counting those whose rows never stopped changing while compared). */
    public long differingTables() {
        return tables.stream().filter(t -> !t.identical() && !t.unsettled()).count();
    }

    public long unsettledTables() {
        return tables.stream().filter(TableResult::unsettled).count();
    }

    /** NOTE: the last line ("verify: identical", "verify: N differences" or "verify: not settled") is what scripts look for. */
    public void print(PrintWriter out) {
        long rows = tables.stream().mapToLong(TableResult::sourceRows).sum();
        int reread = tables.stream().mapToInt(TableResult::reread).sum();
        out.printf("verify: compared %d tables, %,d rows on the source, in %.1f s%s%n", tables.size(), rows, seconds,
                reread == 0 ? "" : "; " + reread + " key ranges read again while the stream caught up");
        otherDifferences.forEach(d -> out.println("  " + d));
        if (identical()) {
            out.println("verify: identical");
        } else if (differingTables() + otherDifferences.size() > 0) {
            out.printf("verify: %d differences (%d tables differ)%n", differingTables() + otherDifferences.size(), differingTables());
        } else {
            out.printf("verify: not settled: %d tables kept changing on the source while they were compared; run it again when writes"
                    + " are lighter, or after the cutover%n", unsettledTables());
        }
        out.flush();
    }
}
