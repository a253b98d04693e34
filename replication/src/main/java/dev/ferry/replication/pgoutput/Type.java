package dev.ferry.replication.pgoutput;

/** TYPE: a non-built-in type used by a published relation. */
public record Type(int typeOid, String namespace, String name) implements PgOutputMessage {}
