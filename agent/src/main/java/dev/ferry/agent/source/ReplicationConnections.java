package dev.ferry.agent.source;

import dev.ferry.agent.db.Database;
import dev.ferry.replication.slot.ReplicationConnection;

import java.sql.Connection;
import java.sql.SQLException;

/**
 * Opens replication connections (replication=database) to the source with the driver properties of ferry's plain
 * connections there, so the slot, the stream and preflight's probe log in the same way.
 */
public final class ReplicationConnections {
    private ReplicationConnections() {}

    public static Connection open(Database source) throws SQLException {
        return ReplicationConnection.open(source.spec().jdbcUrl(), source.properties());
    }
}
