package dev.ferry.agent.db;

import java.util.List;

/**
 * A table as ferry publishes it: a plain table, or the root of a partition tree (changes are published through the
 * root, data is copied through the leaves).
 *
 * @param identified            UPDATE and DELETE can be replayed: a primary key or replica identity on the table and,
 *                              for a partitioned table, on every leaf
 * @param leavesWithoutIdentity for a partitioned table, the leaves that lack one (replica identity is per partition)
 * @param physical              the tables that hold its rows: itself, or its leaf partitions
 */
public record SourceTable(QualifiedName name, boolean partitioned, boolean identified,
                          List<QualifiedName> leavesWithoutIdentity, List<PhysicalTable> physical) {
    public SourceTable {
        leavesWithoutIdentity = List.copyOf(leavesWithoutIdentity);
        physical = List.copyOf(physical);
    }
}
