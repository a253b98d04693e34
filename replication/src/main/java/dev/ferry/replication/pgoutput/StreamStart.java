package dev.ferry.replication.pgoutput;

/** STREAM START: the following messages, up to STREAM STOP, belong to in-progress transaction {@code xid}. */
public record StreamStart(long xid, boolean firstSegment) implements PgOutputMessage {}
