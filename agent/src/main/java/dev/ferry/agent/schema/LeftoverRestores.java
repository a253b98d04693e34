package dev.ferry.agent.schema;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;

/**
 * Ends the target sessions of an earlier pg_restore of this migration that lost its client (a network cut, ferry
 * killed) before a section is restored again. PostgreSQL notices a vanished client only when it next talks to it, so
 * such a session goes on building its index or constraint and commits it while the new restore, which did not see it
 * yet, builds the same: "relation already exists". Ended, its work rolls back and the new restore does it. Only the
 * sessions of this migration's pg_restore in this database are ended (their application_name carries the slot's
 * name: several migrations may restore into one target database, --schema-map); the agent lock makes sure no other
 * restore of this migration runs.
 */
final class LeftoverRestores {
    private static final Logger log = LoggerFactory.getLogger("ferry.schema");
    private static final Duration GONE_WITHIN = Duration.ofSeconds(30);

    private LeftoverRestores() {}

    static void end(Connection target, String section, String slotName) throws SQLException {
        List<Long> ended = new ArrayList<>();
        try (PreparedStatement ps = target.prepareStatement("SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
                + "WHERE datname = current_database() AND application_name = ? AND pid <> pg_backend_pid()")) {
            ps.setString(1, ToolRun.applicationName(slotName));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) ended.add(rs.getLong(1));
            }
        }
        if (ended.isEmpty()) return;
        log.warn("{}: ended {} target session(s) of an earlier pg_restore that lost its connection (pid {}), so what they were building "
                + "rolls back instead of racing this restore", section, ended.size(), ended);
        awaitGone(target, ended);
    }

    /** pg_terminate_backend only signals; the session is gone, and its transaction rolled back, a moment later. */
    private static void awaitGone(Connection target, List<Long> pids) throws SQLException {
        long deadline = System.nanoTime() + GONE_WITHIN.toNanos();
        try (PreparedStatement ps = target.prepareStatement("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY (?)")) {
            ps.setArray(1, target.createArrayOf("int8", pids.toArray()));
            while (true) {
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    if (rs.getLong(1) == 0) return;
                }
                if (System.nanoTime() > deadline) {
                    throw new FerryException("sessions " + pids + " of an earlier pg_restore are still on the target " + GONE_WITHIN.toSeconds()
                            + " s after ferry ended them.", "they hold locks the schema restore needs.",
                            "end them on the target (SELECT pg_terminate_backend(pid) ...), then run ferry again.", ExitCode.FAILED, null);
                }
                LockSupport.parkNanos(Duration.ofMillis(100).toNanos());
            }
        }
    }
}
