package dev.ferry.replication.pgoutput;

/** A removed row, identified by its replica identity key ('K') or its whole old row ('O'). */
public record Delete(int relationId, Tuple old) implements PgOutputMessage {}
