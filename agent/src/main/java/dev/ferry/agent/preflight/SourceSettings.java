package dev.ferry.agent.preflight;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

import static dev.ferry.agent.preflight.CheckFamily.fail;
import static dev.ferry.agent.preflight.CheckFamily.pass;
import static dev.ferry.agent.preflight.CheckFamily.warn;
import static dev.ferry.agent.preflight.PreflightContext.number;
import static dev.ferry.agent.preflight.PreflightContext.setting;

/** The source server's settings that logical replication and a long copy depend on. */
final class SourceSettings implements CheckFamily {
    @Override
    public List<CheckResult> run(PreflightContext c) throws SQLException {
        List<CheckResult> results = new ArrayList<>();
        String walLevel = setting(c.source, "wal_level");
        results.add(walLevel.equals("logical")
                ? pass("wal-level", "wal_level is logical on the source")
                : fail("wal-level", "wal_level is '" + walLevel + "' on the source",
                "ferry reads changes through logical decoding, which needs wal_level = logical.",
                "on the source: ALTER SYSTEM SET wal_level = logical; then restart it (the setting needs a restart). "
                        + "Managed services: RDS/Aurora rds.logical_replication = 1; Cloud SQL cloudsql.logical_decoding = on; Azure wal_level = logical."));

        long maxSlots = Long.parseLong(setting(c.source, "max_replication_slots"));
        long usedSlots = number(c.source, "SELECT count(*) FROM pg_replication_slots");
        long freeSlots = maxSlots - usedSlots;
        String slots = "max_replication_slots = " + maxSlots + ", " + usedSlots + " in use";
        String slotsFix = "on the source: ALTER SYSTEM SET max_replication_slots = " + (usedSlots + 2) + "; then restart it, or drop unused slots (SELECT pg_drop_replication_slot(name)).";
        if (freeSlots >= 2) results.add(pass("replication-slots", slots + ": enough free"));
        else if (freeSlots == 1) results.add(warn("replication-slots", slots + ": one free",
                "ferry needs one slot; if it is restarted during the copy it needs a second, temporary one to copy the unfinished tables again.", slotsFix));
        else results.add(fail("replication-slots", slots + ": none free", "ferry needs a logical replication slot on the source.", slotsFix));

        long maxSenders = Long.parseLong(setting(c.source, "max_wal_senders"));
        long usedSenders = number(c.source, "SELECT count(*) FROM pg_stat_replication");
        results.add(maxSenders - usedSenders >= 1
                ? pass("wal-senders", "max_wal_senders = " + maxSenders + ", " + usedSenders + " in use")
                : fail("wal-senders", "max_wal_senders = " + maxSenders + " and all " + usedSenders + " are in use",
                "the stream needs a WAL sender process on the source.",
                "on the source: ALTER SYSTEM SET max_wal_senders = " + (usedSenders + 2) + "; then restart it."));

        results.add(timeouts(c));
        results.add(pass("hot-standby-feedback", "hot_standby_feedback only matters on standbys; ferry reads from the primary, so it has no effect here"));
        return results;
    }

    private CheckResult timeouts(PreflightContext c) throws SQLException {
        long walSenderTimeoutMs = number(c.source, "SELECT setting::bigint FROM pg_settings WHERE name = 'wal_sender_timeout'");
        String others = "statement_timeout = " + setting(c.source, "statement_timeout") + ", idle_in_transaction_session_timeout = "
                + setting(c.source, "idle_in_transaction_session_timeout") + " (ferry sets both to 0 in its own sessions, so the copy's long snapshot transactions are not cut off)";
        if (walSenderTimeoutMs > 0 && walSenderTimeoutMs < 30_000) {
            return warn("timeouts", "wal_sender_timeout is " + walSenderTimeoutMs + " ms; " + others,
                    "ferry answers the server every 10 s; under load a timeout this short may drop the stream (ferry reconnects, but lag grows).",
                    "on the source: ALTER SYSTEM SET wal_sender_timeout = '60s'; SELECT pg_reload_conf();");
        }
        return pass("timeouts", "wal_sender_timeout = " + (walSenderTimeoutMs == 0 ? "off" : walSenderTimeoutMs + " ms") + "; " + others);
    }
}
