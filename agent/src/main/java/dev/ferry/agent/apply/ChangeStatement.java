package dev.ferry.agent.apply;

/**
 * The SQL one row change runs on the target and, for an insert or upsert, the COPY that many inserted rows of the
 * same shape may take instead. {@link RowStatements} builds one per relation and shape, so the rows of one statement
 * share one instance and carry their COPY route with them.
 *
 * @param copyRoute null for statements that cannot go by COPY (updates, deletes)
 */
record ChangeStatement(String sql, CopyRoute copyRoute) {}
