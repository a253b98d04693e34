package dev.ferry.replication.pgoutput;

import java.util.List;

/** A row as the protocol sends it: one value per column of its relation. */
public record Tuple(List<TupleValue> values) {
    public Tuple {
        values = List.copyOf(values);
    }
}
