package dev.ferry.replication.pgoutput;

/**
 * A message sent inside a stream block (between StreamStart and StreamStop), with the xid of the (sub)transaction
 * it belongs to: changes of a subtransaction carry the subtransaction's xid, so a later StreamAbort can void them.
 */
public record Streamed(long xid, PgOutputMessage message) implements PgOutputMessage {}
