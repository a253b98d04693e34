package dev.ferry.agent.db;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.config.ConnectionSpec;

import java.io.EOFException;
import java.net.ConnectException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.sql.SQLException;
import java.util.Optional;

/**
 * Explains why a login failed, one clear line per cause, naming the server but never the password; and tells a
 * failure that waiting and resuming cures ({@link #isTransient}) from one that needs a person.
 */
public final class ConnectionFailures {
    private ConnectionFailures() {}

    /**
     * Whether ferry should wait for the servers and resume from its state rather than stop: the first SQLSTATE in the
     * cause chain decides (wrappers such as a copy's IOException or a FerryException carry none of their own); a chain
     * without one is transient only when a socket failed under it, or the agent's own disk filled. Resuming is safe
     * whatever was cut short: every copied chunk and every applied transaction commits together with ferry's record of
     * it, so a retry repeats only what left no trace.
     */
    public static boolean isTransient(Throwable failure) {
        Optional<String> state = sqlState(failure);
        if (state.isPresent()) return isTransient(state.get());
        for (Throwable t = failure; t != null && t.getCause() != t; t = t.getCause()) {
            if (t instanceof SocketException || t instanceof SocketTimeoutException || t instanceof EOFException) return true;
            // The agent's own disk (its work directory, where streamed transactions spill): freed by an operator like a server's.
            if (t instanceof java.io.IOException && String.valueOf(t.getMessage()).contains(NO_SPACE)) return true;
        }
        return false;
    }

    /** The SQLSTATE a server (or the driver, for a broken connection) gave this failure, however wrapped. */
    public static Optional<String> sqlState(Throwable failure) {
        for (Throwable t = failure; t != null && t.getCause() != t; t = t.getCause()) {
            if (t instanceof SQLException e && e.getSQLState() != null) return Optional.of(e.getSQLState());
        }
        return Optional.empty();
    }

    /** ENOSPC as the C library words it, in a server's message and in a Java IOException alike. */
    public static final String NO_SPACE = "No space left on device";

    /**
     * The SQLSTATEs worth waiting out, each with the reason; every other one stops ferry with the server's message,
     * because trying again would only get the same answer.
     */
    static boolean isTransient(String sqlState) {
        return switch (sqlState) {
            // connection_exception, connection_does_not_exist, connection_failure: the session broke (pgjdbc's
            // "An I/O error occurred", a reset, a closed connection); a new one may work.
            case "08000", "08003", "08006" -> true;
            // sqlclient_unable_to_establish_sqlconnection: pgjdbc's refused or timed-out connect, a server restarting.
            case "08001" -> true;
            // transaction_resolution_unknown: the connection broke during COMMIT; ferry's state on the target, committed
            // with the rows or not at all, says which it was.
            case "08007" -> true;
            // Not 08004 (sqlserver_rejected_establishment_of_sqlconnection): pgjdbc's "the server does not support SSL",
            // "no password was provided": configuration, the same answer every time.
            // Not 08P01 (protocol_violation): the other end does not speak PostgreSQL's protocol as ferry expects (a
            // pooler refusing startup parameters, a proxy, a bug); a new connection meets the same.
            // admin_shutdown (pg_terminate_backend, a fast shutdown), crash_shutdown (another backend crashed, e.g. one
            // that could not write WAL on a full disk), cannot_connect_now (starting up, in recovery, shutting down).
            case "57P01", "57P02", "57P03" -> true;
            // Not 57P04 (database_dropped): gone for good. Not 57014 (query_canceled): a statement_timeout or someone's
            // pg_cancel_backend would cancel the same statement again.
            // disk_full, out_of_memory, too_many_connections: shortages that other sessions or an operator end (space
            // freed, a session closed). Not 53400 (configuration_limit_exceeded): a setting must change first.
            case "53100", "53200", "53300" -> true;
            // serialization_failure, deadlock_detected: the server rolled the transaction back whole; running it again is
            // the documented answer.
            case "40001", "40P01" -> true;
            // object_in_use: ferry's slot still held by the walsender of a connection that was cut, until the source
            // notices (wal_sender_timeout); each retry's log line names the process if something else holds it.
            case "55006" -> true;
            // Not 58030 (io_error): the server could not read or write a file for a reason other than space (EIO, a
            // permission), a disk or corruption problem a person must see; a full disk is 53100. Nor 28 (login refused),
            // 3D000 (no such database), 42 (syntax, permission), 22 and 23 (data, constraints), XX (internal error).
            default -> false;
        };
    }

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
