package dev.ferry.replication.pgoutput;

/** STREAM STOP: ends a block of an in-progress transaction. */
public record StreamStop() implements PgOutputMessage {}
