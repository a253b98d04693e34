package dev.ferry.replication.pgoutput;

import java.util.List;

/** The values of one row, one per column of its Relation, in column order. */
public record Tuple(List<TupleValue> values) {
    public Tuple {
        values = List.copyOf(values);
    }
}
