package dev.ferry.agent.db;

import dev.ferry.agent.config.ConnectionSpec;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;

/**
 * Opens plain (non-replication) connections to one server and turns login failures into messages a person can act
 * on. Every connection ferry opens runs in UTC with ISO dates so values travel as the same text on both sides.
 */
public final class Database {
    private final ConnectionSpec spec;
    private final String role;

    /** @param role "source" or "target": names the setting in error messages */
    public Database(ConnectionSpec spec, String role) {
        this.spec = spec;
        this.role = role;
    }

    public ConnectionSpec spec() { return spec; }

    public String role() { return role; }

    /** A new connection in autocommit mode; failures are explained by {@link ConnectionFailures}. */
    public Connection open() {
        return open(properties());
    }

    /** Like {@link #open()}, with the session named {@code applicationName} in pg_stat_activity (at most 63 bytes kept). */
    public Connection open(String applicationName) {
        Properties props = properties();
        props.setProperty("ApplicationName", applicationName);
        return open(props);
    }

    private Connection open(Properties props) {
        try {
            return DriverManager.getConnection(spec.jdbcUrl(), props);
        } catch (SQLException e) {
            throw ConnectionFailures.explain(role, spec, e);
        }
    }

    /**
     * The target database gets the source database's own settings (docs/schema.md), often a statement_timeout meant
     * for the application; ferry's sessions there (the stream's, the cutover's row counts, a rerun's post-data) must
     * not be cut off by them. Startup options outrank database settings.
     */
    private static final String TARGET_OPTIONS = " -c statement_timeout=0 -c lock_timeout=0 -c idle_in_transaction_session_timeout=0";

    /** Driver properties shared by every connection ferry makes to this server, replication ones included. */
    public Properties properties() {
        Properties props = spec.jdbcProperties();
        props.putIfAbsent("connectTimeout", "10");
        props.putIfAbsent("tcpKeepAlive", "true");
        // Values travel as text with explicit casts; untyped parameters let the server pick the cast target.
        props.putIfAbsent("stringtype", "unspecified");
        // Batches of one INSERT become multi-row INSERTs: far fewer statements for the server to parse and plan.
        props.putIfAbsent("reWriteBatchedInserts", "true");
        // Values travel as the text of each type's output function, which these settings shape: fixed on both servers
        // (over the databases' and roles' own), a value reads back as it was sent and a REPLICA IDENTITY FULL row, matched
        // by the text of its old values, is found on the target. row_security off, as in pg_dump's sessions: a query that
        // row security policies would filter fails instead ("query would be affected by row-level security policy"), so
        // a copy on the source or an UPDATE on the target (whose tables ferry's user owns, under FORCE ROW LEVEL SECURITY
        // too) never loses rows silently.
        props.setProperty("options", "-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3 -c bytea_output=hex"
                + " -c row_security=off" + ("target".equals(role) ? TARGET_OPTIONS : "")
                + (props.containsKey("options") ? " " + props.getProperty("options") : ""));
        return props;
    }

    /** The server's major version (13, 14, ...). */
    public static int majorVersion(Connection connection) throws SQLException {
        try (Statement s = connection.createStatement();
             ResultSet rs = s.executeQuery("SELECT current_setting('server_version_num')::int / 10000")) {
            rs.next();
            return rs.getInt(1);
        }
    }
}
