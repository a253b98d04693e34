package dev.ferry.agent.state;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.db.Database;
import dev.ferry.agent.db.Resources;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The running agent's claim on its migration: a session-level advisory lock on the target database, taken by `ferry
 * run` before anything else and held on a connection of its own for the agent's whole life. PostgreSQL releases it
 * when that session ends, however the process ended (kill -9 and a lost host included), so "is an agent running?" is
 * answered by whether the lock is held, never by comparing clocks or heartbeats; and a second agent cannot start.
 * <p>
 * Threading: {@link #acquire} and {@link #close} run on the agent's main thread; in between the connection belongs to
 * the thread {@code ferry-agent-lock}, which takes the lock again on a new connection if the first one is lost (a
 * target restart, a network cut). {@link #holder} is for any other process: it only reads pg_locks.
 */
public final class AgentLock implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger("ferry");
    // NOTE: documented in docs/operations.md (pg_locks: locktype advisory, classid 1717924473, objid 1, objsubid 2).
    static final int KEY_SPACE = 0x66657279; // "fery"
    static final int KEY = 1;  // the unnamed migration's; a named one's is keyFor(its state schema)
    private static final Duration CHECK_EVERY = Duration.ofSeconds(2);

    private final Database target;
    private final AgentIdentity identity;
    private final String stateSchema;
    private final ScheduledExecutorService keeper;
    private Connection connection;
    private boolean held = true;
    private boolean reported;

    private AgentLock(Database target, AgentIdentity identity, String stateSchema, Connection connection) {
        this.target = target;
        this.stateSchema = stateSchema;
        this.identity = identity;
        this.connection = connection;
        this.keeper = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread thread = new Thread(r, "ferry-agent-lock");
            thread.setDaemon(true);
            return thread;
        });
        keeper.scheduleWithFixedDelay(this::keep, CHECK_EVERY.toMillis(), CHECK_EVERY.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * Takes the migration's lock on the target for this process, or refuses naming the agent that holds it. Creates
     * nothing: an advisory lock is not an object, and it vanishes with the session.
     */
    public static AgentLock acquire(Database target, AgentIdentity me) throws SQLException {
        return acquire(target, me, StateStore.SCHEMA);
    }

    /** The lock of the migration whose state is in {@code stateSchema}: migrations into one target each have their own. */
    public static AgentLock acquire(Database target, AgentIdentity me, String stateSchema) throws SQLException {
        Connection connection = target.open(me.applicationName());
        try {
            // The session idles for days: a server-wide idle_session_timeout (PostgreSQL 14+) must not end it.
            if (Database.majorVersion(connection) >= 14) {
                try (Statement s = connection.createStatement()) {
                    s.execute("SET idle_session_timeout = 0");
                }
            }
            for (int attempt = 0; attempt < 3; attempt++) {
                if (tryLock(connection, stateSchema)) return new AgentLock(target, me, stateSchema, connection);
                Optional<AgentIdentity> other = holder(connection, stateSchema);
                // Held a moment ago, free now (the other agent just ended): try again.
                if (other.isEmpty()) continue;
                throw new FerryException("another ferry agent is already running this migration: " + other.get().describe() + ".",
                        "one agent follows a migration at a time; it holds a lock on the target " + target.spec().masked()
                                + " for as long as it runs, and this one would apply the same changes a second time.",
                        "leave that agent running (`ferry status` shows it), or stop it (kill " + other.get().pid() + " on "
                                + other.get().host() + ") and start this one again. Nothing was created.",
                        ExitCode.BAD_INPUT, null);
            }
            throw new FerryException("could not take the agent lock on the target " + target.spec().masked() + ".",
                    "another session took and released it several times in a row.", "run the same command again.");
        } catch (SQLException | RuntimeException e) {
            connection.close();
            throw e;
        }
    }

    /**
     * NOTE: documented in docs/operations.md. 1 for schema ferry, a positive hash of the name for ferry_NAME (never 1). Two
     * names with the same hash only make the second agent refuse to start, naming the first.
     */
    static int keyFor(String stateSchema) {
        if (stateSchema.equals(StateStore.SCHEMA)) return KEY;
        int hash = stateSchema.hashCode() & 0x7fffffff;
        return hash <= KEY ? hash + 2 : hash;
    }

    private static boolean tryLock(Connection connection, String stateSchema) throws SQLException {
        try (PreparedStatement s = connection.prepareStatement("SELECT pg_try_advisory_lock(?, ?)")) {
            s.setInt(1, KEY_SPACE);
            s.setInt(2, keyFor(stateSchema));
            try (ResultSet rs = s.executeQuery()) {
                rs.next();
                return rs.getBoolean(1);
            }
        }
    }

    /**
     * The agent holding this database's lock, as its session names itself; empty when no agent is running. Reads
     * pg_locks and pg_stat_activity only, so it never takes the lock itself (a starting agent would then be refused).
     */
    public static Optional<AgentIdentity> holder(Connection target) throws SQLException {
        return holder(target, StateStore.SCHEMA);
    }

    /** Like {@link #holder(Connection)}, for the migration whose state is in {@code stateSchema}. */
    public static Optional<AgentIdentity> holder(Connection target, String stateSchema) throws SQLException {
        try (PreparedStatement s = target.prepareStatement("""
                SELECT a.application_name, a.backend_start, l.pid FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND l.classid = ?::oid AND l.objid = ?::oid AND l.objsubid = 2""")) {
            s.setInt(1, KEY_SPACE);
            s.setInt(2, keyFor(stateSchema));
            try (ResultSet rs = s.executeQuery()) {
                if (!rs.next()) return Optional.empty();
                Optional<java.time.Instant> since = Optional.ofNullable(rs.getTimestamp(2)).map(Timestamp::toInstant);
                // A session that holds the key without an agent's name (a person, another tool) still counts as running.
                return Optional.of(AgentIdentity.fromApplicationName(rs.getString(1), since)
                        .orElse(new AgentIdentity("unknown (target session " + rs.getLong(3) + ", application_name '" + rs.getString(1) + "')", 0, since)));
            }
        }
    }

    public AgentIdentity identity() { return identity; }

    /** Runs on ferry-agent-lock: notices a lost session and takes the lock again on a new one. */
    private void keep() {
        try {
            if (!connection.isValid(10)) {
                Resources.closeQuietly(connection, "the lock's session");
                held = false;
                connection = target.open(identity.applicationName());
            }
            if (held) return;
            if (tryLock(connection, stateSchema)) {
                held = true;
                reported = false;
                log.info("took the agent lock on the target again after losing its connection");
            } else if (!reported) {
                reported = true;
                log.error("lost the agent lock with its connection, and another agent holds it now: {}. Stop one of the two.",
                        holder(connection, stateSchema).map(AgentIdentity::describe).orElse("unknown"));
            }
        } catch (SQLException | RuntimeException e) {
            // The target is unreachable: the stream retries on its own; try the lock again at the next check.
            log.debug("agent lock: target not reachable yet ({})", e.getMessage());
        }
    }

    @Override
    public void close() {
        keeper.shutdownNow();
        try {
            keeper.awaitTermination(15, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Resources.closeQuietly(connection, "the lock's session"); // ends the session, which releases the lock
    }

}
