package dev.ferry.agent.snapshot;

import dev.ferry.agent.name.QualifiedName;

/** Hears how far a copy has come, from the copy worker thread that committed the rows in question. */
@FunctionalInterface
public interface CopyListener {
    /** Every row of {@code table} is committed on the target. */
    void tableCopied(QualifiedName table);

    /**
     * Every row of hypertable {@code table} before {@code boundary} (a literal of its time column's type) is committed
     * on the target: its first {@code units} copy units of several, those ranges in time order; more rows follow.
     */
    default void copiedBefore(QualifiedName table, int units, String boundary) {}
}
