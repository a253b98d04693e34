package dev.ferry.replication.pgoutput;

/** INSERT of {@code row}. */
public record Insert(int relationId, Tuple row) implements PgOutputMessage {}
