package dev.ferry.agent.snapshot;

import dev.ferry.agent.db.PhysicalTable;

import java.util.OptionalLong;

/**
 * One unit of copy work: a whole table, or a range of its heap pages [fromPage, toPage) when a big table is split so
 * that it does not serialise the copy. An absent bound is open.
 */
public record CopyChunk(PhysicalTable table, int index, int count, OptionalLong fromPage, OptionalLong toPage) {

    /**
     * The WHERE clause restricting a scan to this chunk's pages, or for a split hypertable to its time range (TimescaleDB
     * then reads only the chunks in that range); empty for a whole table.
     */
    String pageFilter() {
        if (count == 1) return "";
        if (table.timeRanges().isPresent()) return table.timeRanges().get().filter(index);
        StringBuilder where = new StringBuilder(" WHERE ");
        fromPage.ifPresent(p -> where.append("ctid >= '(").append(p).append(",0)'::tid"));
        if (fromPage.isPresent() && toPage.isPresent()) where.append(" AND ");
        toPage.ifPresent(p -> where.append("ctid < '(").append(p).append(",0)'::tid"));
        return where.toString();
    }

    @Override
    public String toString() {
        return count == 1 ? table.name().toString() : table.name() + " part " + (index + 1) + "/" + count;
    }
}
