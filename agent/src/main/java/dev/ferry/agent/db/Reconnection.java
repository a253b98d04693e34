package dev.ferry.agent.db;

import dev.ferry.agent.FerryException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;

/**
 * Waits out a lost connection (a network cut, a server restart, a terminated session): probes both servers with
 * delays growing from 1 s to 10 s until each accepts a login, and says in the log what it is waiting for and for how
 * long. It waits as long as it takes, as an operator would: the slot keeps the source's changes meanwhile, and a
 * SIGTERM still stops ferry. Used by the agent's main thread only. In db/ with the other connection concerns, so any
 * stage that waits out a lost connection uses it without importing the agent's top level.
 */
public final class Reconnection {
    private static final Logger log = LoggerFactory.getLogger("ferry");
    static final Duration FIRST_DELAY = Duration.ofSeconds(1);
    static final Duration LONGEST_DELAY = Duration.ofSeconds(10);

    private final Database source;
    private final Database target;

    public Reconnection(Database source, Database target) {
        this.source = source;
        this.target = target;
    }

    /** Returns once both servers accept a login again; {@code during} names what was cut short ("the copy"). */
    public Duration await(String during, Exception failure) {
        long start = System.nanoTime();
        Duration delay = FIRST_DELAY;
        log.warn("lost a connection during {} ({}); waiting for both servers to answer again, retrying in {} s at first, then up to every {} s. "
                + "Nothing is lost: ferry resumes from the state it recorded on the target.", during, reason(failure), delay.toSeconds(), LONGEST_DELAY.toSeconds());
        for (int attempt = 1; ; attempt++) {
            pause(delay);
            String down = unreachable();
            if (down == null) {
                Duration outage = Duration.ofNanos(System.nanoTime() - start);
                log.warn("both servers answer again after {} s (attempt {}); resuming {}", outage.toSeconds(), attempt, during);
                return outage;
            }
            if (attempt == 1 || attempt % 5 == 0) {
                log.warn("still waiting for {} ({} s since the connection was lost, attempt {}); next try in {} s",
                        down, (System.nanoTime() - start) / 1_000_000_000L, attempt, next(delay).toSeconds());
            }
            delay = next(delay);
        }
    }

    private static Duration next(Duration delay) {
        Duration doubled = delay.multipliedBy(2);
        return doubled.compareTo(LONGEST_DELAY) > 0 ? LONGEST_DELAY : doubled;
    }

    /** The first server that does not take a login, with why; null when both do. */
    private String unreachable() {
        for (Database server : new Database[] {source, target}) {
            try (Connection c = server.open()) {
                c.isValid(5);
            } catch (SQLException | FerryException e) {
                return server.role() + " " + server.spec().masked() + " (" + reason(e) + ")";
            }
        }
        return null;
    }

    /** The innermost message: "Connection refused", "terminating connection due to administrator command". */
    static String reason(Throwable failure) {
        Throwable root = failure;
        while (root.getCause() != null && root.getCause() != root) root = root.getCause();
        String message = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
        return root == failure ? message : failure.getMessage() + ": " + message;
    }

    private static void pause(Duration delay) {
        try {
            Thread.sleep(delay.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw FerryException.interrupted("interrupted while waiting to reconnect.", "run the same `ferry run` again to resume.", e);
        }
    }
}
