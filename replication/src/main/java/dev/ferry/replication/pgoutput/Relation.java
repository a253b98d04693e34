package dev.ferry.replication.pgoutput;

import java.util.List;

/**
 * Describes a relation before its first change in a session (and again after its definition changes).
 * {@code replicaIdentity} is {@code pg_class.relreplident}: 'd' default, 'n' nothing, 'f' full, 'i' index.
 */
public record Relation(int relationId, String namespace, String name, char replicaIdentity, List<Column> columns)
        implements PgOutputMessage {
    public Relation {
        columns = List.copyOf(columns);
    }

    /** {@code partOfKey}: the column belongs to the replica identity, so it appears in 'K' old tuples. */
    public record Column(boolean partOfKey, String name, int typeOid, int typeModifier) {}
}
