package dev.ferry.replication.pgoutput;

/** Closes the block opened by the last StreamStart. */
public record StreamStop() implements PgOutputMessage {}
