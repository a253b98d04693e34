package dev.ferry.agent.apply;

/**
 * Which of a relation's columns a change carries, and where each sits among the change's parameters. Unchanged TOAST
 * values and generated columns are not carried. {@link RowStatements} makes each shape once per relation, so a
 * change's statement is found by the shape's {@link #id()} in an array, and the usual shape, every column, costs
 * nothing per change.
 *
 * @param id        this shape's index among its relation's shapes (0: every column)
 * @param columns   the carried columns' indexes, ascending: the order of a change's parameters
 * @param positions per column of the relation, its index in {@code columns}, or -1 where it is not carried
 */
record TupleShape(int id, int[] columns, int[] positions) {
    static TupleShape of(int id, int columnCount, int[] columns) {
        int[] positions = new int[columnCount];
        java.util.Arrays.fill(positions, -1);
        for (int p = 0; p < columns.length; p++) positions[columns[p]] = p;
        return new TupleShape(id, columns, positions);
    }

    boolean isEmpty() {
        return columns.length == 0;
    }

    boolean carries(int column) {
        return positions[column] >= 0;
    }
}
