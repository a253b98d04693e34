package dev.ferry.replication.pgoutput;

import dev.ferry.replication.Lsn;

/** ORIGIN: the transaction was replayed from another node (replication origin {@code name}). */
public record Origin(Lsn commitLsn, String name) implements PgOutputMessage {}
