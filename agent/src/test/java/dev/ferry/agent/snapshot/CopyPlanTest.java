package dev.ferry.agent.snapshot;

import dev.ferry.agent.db.PhysicalTable;
import dev.ferry.agent.name.QualifiedName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(10)
class CopyPlanTest {
    private static PhysicalTable table(String name, long bytes) {
        return new PhysicalTable(new QualifiedName("public", name), List.of("id"), Set.of(), bytes, bytes, true);
    }

    /** A hypertable is cut where its chunks begin: consecutive time ranges, open at both ends, whatever its size. */
    @Test
    void hypertableIsSplitAtItsChunkBoundaries() {
        PhysicalTable metrics = new PhysicalTable(new QualifiedName("public", "metrics"), List.of("time"), Set.of(), 0, 1024, true, true,
                java.util.Optional.of(new PhysicalTable.TimeRanges("time", List.of("'2026-01-02'::timestamptz", "'2026-01-03'::timestamptz"))));
        List<CopyChunk> chunks = CopyPlan.plan(List.of(metrics), 2, 15).chunks().stream()
                .sorted((a, b) -> Integer.compare(a.index(), b.index())).toList();
        assertEquals(List.of(" WHERE \"time\" < '2026-01-02'::timestamptz",
                " WHERE \"time\" >= '2026-01-02'::timestamptz AND \"time\" < '2026-01-03'::timestamptz",
                " WHERE \"time\" >= '2026-01-03'::timestamptz"), chunks.stream().map(CopyChunk::pageFilter).toList());
        assertEquals(1, CopyPlan.plan(List.of(metrics), 1, 15).chunks().size(), "one worker: copied whole");
    }

    @Test
    void bigTableIsSplitIntoContiguousPageRangesCoveringEverything() {
        CopyPlan plan = CopyPlan.plan(List.of(table("big", 1024L * 1024 * 1024), table("small", 1024)), 2, 15);
        List<CopyChunk> big = plan.chunks().stream().filter(c -> c.table().name().name().equals("big")).toList();
        assertTrue(big.size() > 2, "split into " + big.size());
        List<CopyChunk> ordered = big.stream().sorted((a, b) -> Integer.compare(a.index(), b.index())).toList();
        assertTrue(ordered.get(0).fromPage().isEmpty(), "first range starts at the beginning");
        assertTrue(ordered.get(ordered.size() - 1).toPage().isEmpty(), "last range is open-ended");
        for (int i = 1; i < ordered.size(); i++) {
            assertEquals(ordered.get(i - 1).toPage().getAsLong(), ordered.get(i).fromPage().getAsLong(), "ranges are contiguous");
        }
        assertEquals("small", plan.chunks().get(plan.chunks().size() - 1).table().name().name(), "small work goes last");
    }

    @Test
    void noSplitOnPostgres13WhichLacksTidRangeScans() {
        CopyPlan plan = CopyPlan.plan(List.of(table("big", 1024L * 1024 * 1024)), 4, 13);
        assertEquals(1, plan.chunks().size());
        assertEquals("", plan.chunks().get(0).pageFilter());
    }

    @Test
    void smallTablesAreNeverSplit() {
        CopyPlan plan = CopyPlan.plan(List.of(table("a", 10L * 1024 * 1024), table("b", 5L * 1024 * 1024)), 2, 16);
        assertEquals(2, plan.chunks().size());
    }

    @Test
    void toastHeavyTableIsSplitByItsDataAndGoesFirst() {
        // 2 MB of heap pointing at 400 MB of TOASTed values: the work is the 400 MB.
        PhysicalTable docs = new PhysicalTable(new QualifiedName("public", "docs"), List.of("id"), Set.of(), 2L * 1024 * 1024, 400L * 1024 * 1024, true);
        CopyPlan plan = CopyPlan.plan(List.of(table("rows", 100L * 1024 * 1024), docs), 2, 15);
        List<CopyChunk> docChunks = plan.chunks().stream().filter(c -> c.table().equals(docs)).toList();
        assertTrue(docChunks.size() > 1, "split into " + docChunks.size());
        assertEquals(docs, plan.chunks().get(0).table(), "the table with the most data starts first");
        long lastFrom = docChunks.stream().mapToLong(c -> c.fromPage().orElse(0)).max().orElseThrow();
        assertTrue(lastFrom < 256, "ranges cover the 256 heap pages, not the TOAST: last starts at page " + lastFrom);
    }
}
