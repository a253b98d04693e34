package dev.ferry.agent.db;

import dev.ferry.agent.FerryException;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;

/** Session settings every ferry writer on the target needs, applied when a connection is taken. */
public final class TargetSession {
    private TargetSession() {}

    /**
     * Replica role, so the target's triggers and foreign keys neither fire nor check: the source already did both,
     * and applying its changes per table in a batch would otherwise trip them. Asynchronous commit is safe because
     * ferry's progress is written in the same transaction as the rows: a lost commit loses both, and is redone.
     */
    public static void configure(Connection target, String role) throws SQLException {
        try (Statement s = target.createStatement()) {
            s.execute("SET synchronous_commit = off");
            s.execute("SET statement_timeout = 0");
            s.execute("SET lock_timeout = 0");
            try {
                s.execute("SET session_replication_role = replica");
            } catch (SQLException e) {
                if (!"42501".equals(e.getSQLState())) throw e;
                throw new FerryException("the " + role + " user may not set session_replication_role.",
                        "ferry writes with session_replication_role = replica so the target's triggers and foreign keys do not fire twice; "
                                + "that setting needs a superuser or an explicit grant.",
                        "on the target, as a superuser: GRANT SET ON PARAMETER session_replication_role TO <ferry's user>; (PostgreSQL 15+), "
                                + "or connect as a superuser / your provider's admin role (rds_superuser, tsdbadmin).", e);
            }
        }
    }

    /** Settings for sessions reading the source: ferry's long reads must not be cut off by the application's timeouts. */
    public static void configureSourceReader(Connection source) throws SQLException {
        try (Statement s = source.createStatement()) {
            s.execute("SET statement_timeout = 0");
            s.execute("SET idle_in_transaction_session_timeout = 0");
        }
    }
}
