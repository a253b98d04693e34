package dev.ferry.replication.pgoutput;

/** A message inside a stream block, with the xid of the (sub)transaction it belongs to. */
public record Streamed(long xid, PgOutputMessage message) implements PgOutputMessage {}
