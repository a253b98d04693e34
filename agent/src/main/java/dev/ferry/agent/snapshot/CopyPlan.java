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

    private final List<CopyChunk> chunks;

    private CopyPlan(List<CopyChunk> chunks) {
        this.chunks = List.copyOf(chunks);
    }

    public static CopyPlan plan(List<PhysicalTable> tables, int jobs, int sourceMajor) {
        long total = tables.stream().mapToLong(PhysicalTable::sizeBytes).sum();
        // Aim for several chunks per worker of the biggest tables, never chunks under MIN_SPLIT_BYTES / 2.
        long chunkBytes = Math.max(MIN_SPLIT_BYTES / 2, total / Math.max(1, jobs * 4L));
        List<CopyChunk> chunks = new ArrayList<>();
        for (PhysicalTable table : tables) {
            boolean split = sourceMajor >= 14 && jobs > 1 && table.sizeBytes() >= MIN_SPLIT_BYTES && table.sizeBytes() > chunkBytes;
            if (!split) {
                chunks.add(new CopyChunk(table, 0, 1, OptionalLong.empty(), OptionalLong.empty()));
                continue;
            }
            long pages = (table.sizeBytes() + PAGE_SIZE - 1) / PAGE_SIZE;
            int count = (int) Math.min(1024, (table.sizeBytes() + chunkBytes - 1) / chunkBytes);
            long pagesPerChunk = (pages + count - 1) / count;
            for (int i = 0; i < count; i++) {
                OptionalLong from = i == 0 ? OptionalLong.empty() : OptionalLong.of(i * pagesPerChunk);
                // The last range is open-ended: rows the snapshot sees may sit on pages added after sizing.
                OptionalLong to = i == count - 1 ? OptionalLong.empty() : OptionalLong.of((i + 1) * pagesPerChunk);
                chunks.add(new CopyChunk(table, i, count, from, to));
            }
        }
        chunks.sort(Comparator.comparingLong((CopyChunk c) -> c.table().sizeBytes() / c.count()).reversed());
        return new CopyPlan(chunks);
    }

    public List<CopyChunk> chunks() { return chunks; }
}
