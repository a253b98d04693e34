package dev.ferry.agent.apply;

/**
 * One row change waiting in the batch: what the target runs for it (a statement with its text parameters) and the
 * target table it changes.
 *
 * @param key  the row's key values joined, for keyed changes (null for REPLICA IDENTITY FULL and keyless rows)
 * @param kind what the change is on the source, which decides how its result is checked and whether COPY may take it
 */
record PendingRow(TargetRelation relation, ChangeStatement statement, String[] parameters, String key, Kind kind, long bytes) {

    enum Kind {
        /** A source INSERT: on a target in step with the source no row holds its key yet. */
        INSERT,
        /** A source UPDATE replayed as an upsert of the new row: idempotent, whatever the target holds. */
        UPSERT,
        /** An UPDATE or DELETE that should change exactly one row; finding none means the target drifted, which ferry reports. */
        MUST_FIND_ROW
    }

    String sql() {
        return statement.sql();
    }

    boolean inserted() {
        return kind == Kind.INSERT;
    }

    boolean mustFindRow() {
        return kind == Kind.MUST_FIND_ROW;
    }
}
