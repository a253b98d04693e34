package dev.ferry.agent.db;

import dev.ferry.agent.name.QualifiedName;

import java.util.List;

/**
 * A table as ferry migrates it: a plain table, or the root of a partition tree (data is copied through the leaves,
 * and changes are published per leaf, each identified by its own replica identity, as PostgreSQL logs them).
 *
 * @param identified            UPDATE and DELETE can be replayed: a primary key or replica identity on the table or,
 *                              for a partitioned table, on every leaf (the root's own does not matter)
 * @param leavesWithoutIdentity for a partitioned table, the leaves that lack one (replica identity is per partition)
 * @param physical              the tables that hold its rows: itself, or its leaf partitions
 * @param wholeTree             a partitioned table published by its root, so that partitions created on the source
 *                              later are published too (each still on its own): only when the root has a primary key,
 *                              which every partition inherits, every partition has an identity and none is excluded
 */
public record SourceTable(QualifiedName name, boolean partitioned, boolean identified,
                          List<QualifiedName> leavesWithoutIdentity, List<PhysicalTable> physical, boolean wholeTree) {
    public SourceTable {
        leavesWithoutIdentity = List.copyOf(leavesWithoutIdentity);
        physical = List.copyOf(physical);
    }

    /**
     * The relations whose changes the stream carries, with ({@code true}) or without a replica identity: the table
     * itself, or its leaf partitions, each published on its own.
     */
    public List<QualifiedName> publishedRelations(boolean withIdentity) {
        if (!partitioned) return withIdentity == identified ? List.of(name) : List.of();
        return physical.stream().map(PhysicalTable::name).filter(leaf -> withIdentity != leavesWithoutIdentity.contains(leaf)).toList();
    }
}
