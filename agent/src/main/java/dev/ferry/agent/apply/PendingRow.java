package dev.ferry.agent.apply;

/**
 * One row change waiting in the batch: a statement of a relation and its text parameters.
 *
 * @param key         the row's key values joined, for keyed changes (null for REPLICA IDENTITY FULL and keyless rows)
 * @param mustFindRow an UPDATE or DELETE that should change exactly one row; finding none means the target has
 *                    drifted from the source, which ferry reports
 * @param inserted    the change is an INSERT: on a target in step with the source no row holds its key yet
 */
record PendingRow(RowStatements relation, String sql, String[] parameters, String key, boolean mustFindRow, boolean inserted, long bytes) {}
