package dev.ferry.replication.pgoutput;

/** A new row. */
public record Insert(int relationId, Tuple row) implements PgOutputMessage {}
