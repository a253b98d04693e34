package dev.ferry.replication.slot;

import org.postgresql.PGProperty;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Properties;

/** Opens connections in logical replication mode (walsender for one database). */
public final class ReplicationConnection {
    private ReplicationConnection() {}

    /**
     * A connection that accepts replication commands (CREATE_REPLICATION_SLOT, START_REPLICATION); it unwraps to
     * {@link org.postgresql.PGConnection}. Uses the simple query protocol, as walsenders require.
     */
    public static Connection open(String jdbcUrl, Properties properties) throws SQLException {
        Properties props = new Properties();
        props.putAll(properties);
        PGProperty.REPLICATION.set(props, "database");
        PGProperty.ASSUME_MIN_SERVER_VERSION.set(props, "10");
        PGProperty.PREFER_QUERY_MODE.set(props, "simple");
        return DriverManager.getConnection(jdbcUrl, props);
    }
}
