package dev.ferry.agent.apply;

import dev.ferry.replication.pgoutput.Relation;

import java.sql.SQLException;

/**
 * Brings a target table in line with a changed source table at its RELATION message, before {@link RelationMapper}
 * checks it; throws the FerryException that stops the stream where it cannot. Implemented outside apply/
 * (drift/ColumnDrift), so this package imports none of the DDL handling.
 */
public interface RelationDrift {
    void reconcile(Relation relation) throws SQLException;
}
