package dev.ferry.replication.pgoutput;

import java.util.List;

/**
 * RELATION: the definition of a published relation, sent before its first change and after any change to it.
 *
 * @param replicaIdentity {@code d} default (primary key), {@code n} nothing, {@code f} full, {@code i} index
 */
public record Relation(int relationId, String namespace, String name, char replicaIdentity, List<Column> columns) implements PgOutputMessage {
    public Relation {
        columns = List.copyOf(columns);
    }

    /** A column; {@code partOfKey} when it belongs to the replica identity. */
    public record Column(boolean partOfKey, String name, int typeOid, int typeModifier) {}
}
