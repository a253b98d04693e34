package dev.ferry.agent.db;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.config.ConnectionSpec;

import java.io.IOException;
import java.net.ConnectException;
import java.net.UnknownHostException;
import java.sql.SQLException;

/**
 * Explains why a login failed, one clear line per cause, naming the server but never the password; and tells a lost
 * connection, which a reconnect cures, from other failures.
 */
public final class ConnectionFailures {
    private ConnectionFailures() {}

    public static FerryException explain(String role, ConnectionSpec spec, SQLException e) {
        String state = e.getSQLState() == null ? "" : e.getSQLState();
        String server = "the " + role + " " + spec.masked();
        Throwable root = rootCause(e);
        if (root instanceof UnknownHostException) {
            return unreachable("cannot reach " + server + ":", "the host name '" + spec.host() + "' does not resolve.",
                    "check the host in --" + role + ".", e);
        }
        if (root instanceof ConnectException) {
            return unreachable("cannot reach " + server + ":", "the connection to " + spec.host() + ":" + spec.port() + " was refused; no server listens there.",
                    "check the host and port in --" + role + " and that the server is running and accepts TCP connections.", e);
        }
        String message = e.getMessage() == null ? "" : e.getMessage().toLowerCase();
        if (message.contains("unsupported startup parameter") || message.contains("pgbouncer")) {
            return new FerryException(server + " answers as a connection pooler (PgBouncer or similar): " + serverMessage(e),
                    "ferry needs replication connections and long snapshot transactions, which poolers cannot carry.",
                    "connect to the database directly: point --" + role + " at the server's own host and port, not the pooler's.",
                    ExitCode.PREFLIGHT_FAILED, e);
        }
        if (message.contains("no encryption") || message.contains("ssl off")) {
            return unreachable("cannot log in to " + server + ":", "it accepts only TLS (SSL) connections from this host, and ferry connected without: "
                            + serverMessage(e),
                    "add sslmode=require to --" + role + " (e.g. ...?sslmode=require), or remove sslmode=disable from it.", e);
        }
        if (message.contains("does not support ssl")) {
            return unreachable("cannot connect to " + server + ":", "--" + role + " asks for TLS (sslmode=" + spec.parameters().getOrDefault("sslmode", "require")
                            + "), but the server has TLS switched off.",
                    "turn on ssl on that server, or remove sslmode from --" + role + " if an unencrypted connection is acceptable there.", e);
        }
        if (message.contains("could not be verified by hostnameverifier")) {
            return unreachable("cannot connect to " + server + ":", "its TLS certificate does not name the host '" + spec.host()
                            + "' (sslmode=verify-full checks that the certificate's CN or subjectAltName is the host connected to).",
                    "connect by the name the certificate carries, or use sslmode=verify-ca to check the CA only (the name is then not checked).", e);
        }
        if (root instanceof java.security.cert.CertificateException || message.contains("pkix path")) {
            return unreachable("cannot connect to " + server + ":", "its TLS certificate is not signed by a CA ferry trusts: " + serverMessage(e),
                    "give the CA that signed the server's certificate as sslrootcert=/path/ca.crt in --" + role
                            + " (or use sslmode=require, which encrypts without checking the certificate).", e);
        }
        if (state.equals("28P01") || state.equals("28000")) {
            return unreachable("cannot log in to " + server + ":", "the server rejected user '" + spec.user() + "': " + serverMessage(e),
                    "check the user and password in --" + role + " (or ~/.pgpass) and pg_hba.conf on that server.", e);
        }
        if (state.equals("3D000")) {
            return unreachable("cannot open " + server + ":", "the database '" + spec.database() + "' does not exist there.",
                    "create it first, or fix the database name in --" + role + ".", e);
        }
        return unreachable("cannot connect to " + server + ":", serverMessage(e),
                "check --" + role + " and that the server is reachable from this host.", e);
    }

    /** Connection-level failures (server restart, network drop) that a reconnect can cure, however wrapped. */
    public static boolean isTransient(Exception failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof IOException) return true;
            if (t instanceof SQLException e) {
                String sqlState = e.getSQLState() == null ? "" : e.getSQLState();
                if (sqlState.startsWith("08") || sqlState.startsWith("57P")) return true;
            }
            if (t.getCause() == t) break;
        }
        return false;
    }

    private static FerryException unreachable(String what, String why, String fix, SQLException cause) {
        return new FerryException(what, why, fix, ExitCode.UNREACHABLE, cause);
    }

    static String serverMessage(SQLException e) {
        String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return e.getSQLState() == null ? message : message + " (SQLSTATE " + e.getSQLState() + ")";
    }

    private static Throwable rootCause(Throwable t) {
        Throwable current = t;
        while (current.getCause() != null && current.getCause() != current) current = current.getCause();
        return current;
    }
}
