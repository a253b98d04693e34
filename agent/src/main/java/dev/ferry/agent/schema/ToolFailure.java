package dev.ferry.agent.schema;

import dev.ferry.agent.db.ConnectionFailures;

import java.sql.SQLException;
import java.util.List;
import java.util.Map;

/**
 * The SQLSTATE behind a failed pg_dump or pg_restore, so that a lost connection or a full disk under them is waited
 * out like one under ferry's own sessions ({@link ConnectionFailures#isTransient}). The tools print a server's error
 * without its SQLSTATE, and libpq's own errors have none, so this goes by their wording: libpq's in English (ToolRun
 * runs the tools with LC_MESSAGES=C), the server's in its lc_messages, English by default.
 */
final class ToolFailure {
    /** Phrase, and the SQLSTATE it stands for; the first phrase found in the tool's errors wins. */
    private static final List<Map.Entry<String, String>> PHRASES = List.of(
            Map.entry("server closed the connection unexpectedly", "08006"),
            Map.entry("could not receive data from server", "08006"),
            Map.entry("could not send data to server", "08006"),
            Map.entry("SSL SYSCALL error", "08006"),
            Map.entry("SSL connection has been closed unexpectedly", "08006"),
            Map.entry("no connection to the server", "08003"),
            Map.entry("Connection refused", "08001"),
            Map.entry("Connection timed out", "08001"),
            Map.entry("No route to host", "08001"),
            Map.entry("Network is unreachable", "08001"),
            Map.entry("terminating connection due to administrator command", "57P01"),
            Map.entry("terminating connection because of crash of another server process", "57P02"),
            Map.entry("the database system is starting up", "57P03"),
            Map.entry("the database system is shutting down", "57P03"),
            Map.entry("the database system is in recovery mode", "57P03"),
            Map.entry("the database system is not yet accepting connections", "57P03"),
            Map.entry(ConnectionFailures.NO_SPACE, "53100"),
            Map.entry("sorry, too many clients already", "53300"),
            Map.entry("remaining connection slots are reserved", "53300"),
            Map.entry("deadlock detected", "40P01"));

    private ToolFailure() {}

    /**
     * A stand-in for the server's exception, carrying the SQLSTATE its wording stands for, to be the cause of the
     * FerryException that reports the tool's failure; null when the errors are none of those above.
     */
    static SQLException cause(String tool, ToolRun.Result result) {
        String errors = result.stderr();
        for (Map.Entry<String, String> phrase : PHRASES) {
            if (errors.contains(phrase.getKey())) return new SQLException(tool + ": " + result.errors(), phrase.getValue());
        }
        return null;
    }
}
