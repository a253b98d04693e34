package dev.ferry.replication.pgoutput;

/** Names a non-built-in type (enum, domain, composite...) before a relation using it is described. */
public record Type(int typeOid, String namespace, String name) implements PgOutputMessage {}
