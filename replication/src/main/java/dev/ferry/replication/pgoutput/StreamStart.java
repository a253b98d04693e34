package dev.ferry.replication.pgoutput;

/** Opens a block of changes of an in-progress transaction (protocol 2+); until StreamStop, messages arrive as {@link Streamed}. */
public record StreamStart(long xid, boolean firstSegment) implements PgOutputMessage {}
