package dev.ferry.agent.db;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;

import java.util.Optional;

/**
 * Says which server ran short of disk, memory or connection slots, and what to do, for a failure ferry waits out
 * ({@link Reconnection}): unlike a lost connection, only a person can end it, so the log must say what is short
 * where. Used by the agent's main thread only.
 */
final class ServerShortage {
    private ServerShortage() {}

    /** The shortage behind {@code failure}, as a three-part message to log; empty when it is none. */
    static Optional<FerryException> explain(Throwable failure, String during, Database source, Database target) {
        String state = ConnectionFailures.sqlState(failure).orElse("");
        String message = Reconnection.reason(failure);
        String retry = " ferry retries by itself, with delays growing to " + Reconnection.LONGEST_DELAY.toSeconds()
                + " s, and resumes where it stopped; it need not be restarted.";
        if (state.isEmpty() && message.contains(ConnectionFailures.NO_SPACE)) {
            return Optional.of(new FerryException("ferry's own disk is full during " + during + ": " + message,
                    "ferry could not write a file in its work directory (--work-dir), where it spills large in-progress transactions.",
                    "free space on the filesystem of --work-dir." + retry, failure));
        }
        Database server = onSource(message) ? source : target;
        String name = "the " + server.role() + " " + server.spec().masked();
        return Optional.ofNullable(switch (state) {
            case "53100" -> new FerryException(name + " is out of disk space during " + during + ": " + message,
                    server == target
                            ? "PostgreSQL could not write into its data directory or a tablespace. What ferry wrote before is kept: each copied chunk and "
                                    + "each applied transaction commits whole, together with ferry's record of it; the statement that failed left nothing."
                            : "PostgreSQL could not write the files logical decoding spills large transactions into (pg_replslot in its data directory).",
                    "free space on the filesystem that holds the " + server.role() + "'s data directory (its pg_wal too) or the tablespace, or grow it."
                            + retry + " If the " + server.role() + " stopped (PostgreSQL stops when it cannot write WAL), start it again once there is space.",
                    failure);
            case "53200" -> new FerryException(name + " is out of memory during " + during + ": " + message,
                    "PostgreSQL could not allocate memory for one of ferry's statements.",
                    "free memory on that server (other sessions; work_mem, maintenance_work_mem), or add some." + retry, failure);
            case "53300" -> new FerryException(name + " has no connection slot free during " + during + ": " + message,
                    "every connection max_connections allows is taken; ferry needs about --jobs + 4 on the target and --jobs + 2 on the source.",
                    "close other sessions on that server or raise max_connections there." + retry, failure);
            default -> null;
        });
    }

    /** Only the source's walsender writes files for ferry there: the spill files of logical decoding. */
    private static boolean onSource(String message) {
        return message.contains("pg_replslot") || message.contains("pg_logical") || message.contains("data file for XID");
    }
}
