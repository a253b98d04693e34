package dev.ferry.replication.pgoutput;

import java.util.Arrays;

/** One column value of a {@link Tuple}, in PostgreSQL's text (or binary) form, never converted. */
public sealed interface TupleValue {
    /** The decoder's shared instances; any other instance is equal to them (records without fields). */
    Null NULL = new Null();
    UnchangedToast UNCHANGED_TOAST = new UnchangedToast();

    record Text(String value) implements TupleValue {}

    /** Binary send/recv form; pgoutput sends it only when the subscriber asks for binary. Copied in and out. */
    record Binary(byte[] value) implements TupleValue {
        public Binary {
            value = value.clone();
        }

        @Override
        public byte[] value() { return value.clone(); }

        @Override
        public boolean equals(Object o) { return o instanceof Binary b && Arrays.equals(value, b.value); }

        @Override
        public int hashCode() { return Arrays.hashCode(value); }

        @Override
        public String toString() { return "Binary[" + value.length + " bytes]"; }
    }

    record Null() implements TupleValue {}

    /** A TOASTed value the change did not touch and the server did not send: the target keeps its current value. */
    record UnchangedToast() implements TupleValue {}
}
