package dev.ferry.replication.pgoutput;

/** One column value of a tuple. */
public sealed interface TupleValue {
    /** The value in the type's text output form. */
    record Text(String value) implements TupleValue {}

    /** The value in the type's binary form (only when binary transfer was asked for). */
    record Binary(byte[] value) implements TupleValue {}

    /** SQL NULL. */
    record Null() implements TupleValue {}

    /** A TOASTed value the change did not touch: the target keeps its current value. */
    record UnchangedToast() implements TupleValue {}
}
