package dev.ferry.agent.snapshot;

import dev.ferry.agent.db.PhysicalTable;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.OptionalLong;

/**
 * Orders the copy: biggest work first so the last table to finish is a small one, and big tables split into page
 * ranges so one table holding most of the data is copied by every worker at once. Splitting needs a TID range scan
 * (PostgreSQL 14+); on older sources each range would read the whole table, so tables are copied whole there.
 */
public final class CopyPlan {
    static final long PAGE_SIZE = 8192;
    /** Tables below this are never split: the per-chunk overhead would outweigh the parallelism. */
    static final long MIN_SPLIT_BYTES = 32L * 1024 * 1024;
    /** A range of fewer pages would cost more in per-chunk work than it saves. */
    static final long MIN_PAGES_PER_CHUNK = 16;

    private final List<CopyChunk> chunks;

    private CopyPlan(List<CopyChunk> chunks) {
        this.chunks = List.copyOf(chunks);
    }

    public static CopyPlan plan(List<PhysicalTable> tables, int jobs, int sourceMajor) {
        long total = tables.stream().mapToLong(PhysicalTable::dataBytes).sum();
        // Aim for several chunks per worker of the biggest tables, never chunks under MIN_SPLIT_BYTES / 2.
        long chunkBytes = Math.max(MIN_SPLIT_BYTES / 2, total / Math.max(1, jobs * 4L));
        List<CopyChunk> chunks = new ArrayList<>();
        for (PhysicalTable table : tables) {
            if (table.timeRanges().isPresent() && jobs > 1) {
                // A hypertable is cut where its chunks begin: chunks are copied in parallel, each read by chunk exclusion.
                int count = table.timeRanges().get().count();
                for (int i = 0; i < count; i++) chunks.add(new CopyChunk(table, i, count, OptionalLong.empty(), OptionalLong.empty()));
                continue;
            }
            long pages = (table.heapBytes() + PAGE_SIZE - 1) / PAGE_SIZE;
            // Sized by all of its data, TOAST included, but cut along heap pages: a range of pages takes its rows'
            // TOASTed values with it.
            int count = (int) Math.min(Math.min(1024, pages / MIN_PAGES_PER_CHUNK), (table.dataBytes() + chunkBytes - 1) / chunkBytes);
            boolean split = sourceMajor >= 14 && jobs > 1 && table.dataBytes() >= MIN_SPLIT_BYTES && count > 1;
            if (!split) {
                chunks.add(new CopyChunk(table, 0, 1, OptionalLong.empty(), OptionalLong.empty()));
                continue;
            }
            long pagesPerChunk = (pages + count - 1) / count;
            for (int i = 0; i < count; i++) {
                OptionalLong from = i == 0 ? OptionalLong.empty() : OptionalLong.of(i * pagesPerChunk);
                // The last range is open-ended: rows the snapshot sees may sit on pages added after sizing.
                OptionalLong to = i == count - 1 ? OptionalLong.empty() : OptionalLong.of((i + 1) * pagesPerChunk);
                chunks.add(new CopyChunk(table, i, count, from, to));
            }
        }
        chunks.sort(Comparator.comparingLong((CopyChunk c) -> c.table().dataBytes() / c.count()).reversed());
        return new CopyPlan(chunks);
    }

    public List<CopyChunk> chunks() { return chunks; }
}
