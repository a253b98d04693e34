package dev.ferry.replication.slot;

import org.postgresql.PGProperty;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Properties;

/** Opens connections in logical replication mode, the only mode that accepts CREATE_REPLICATION_SLOT and START_REPLICATION. */
public final class ReplicationConnection {
    private ReplicationConnection() {}

    /**
     * Opens a pgjdbc connection with {@code replication=database}, {@code preferQueryMode=simple} (the walsender
     * speaks only the simple query protocol) and {@code assumeMinServerVersion=10} (skips startup queries the
     * walsender rejects). The result is a {@link Connection} that unwraps to {@link org.postgresql.PGConnection}.
     * {@code props} is copied, not modified; settings in it or in the URL other than these three are kept.
     */
    public static Connection open(String jdbcUrl, Properties props) throws SQLException {
        Properties settings = new Properties();
        settings.putAll(props);
        PGProperty.REPLICATION.set(settings, "database");
        PGProperty.PREFER_QUERY_MODE.set(settings, "simple");
        PGProperty.ASSUME_MIN_SERVER_VERSION.set(settings, "10");
        return DriverManager.getConnection(jdbcUrl, settings);
    }
}
