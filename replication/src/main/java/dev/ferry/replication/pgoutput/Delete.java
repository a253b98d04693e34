package dev.ferry.replication.pgoutput;

/** DELETE of the row identified by {@code old}: its key, or its full old row with REPLICA IDENTITY FULL. */
public record Delete(int relationId, Tuple old) implements PgOutputMessage {}
