package dev.ferry.agent.demo;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

/**
 * A live application writing to the source while ferry migrates it: one thread, {@code ferry-demo-writer}, runs
 * small transactions on the {@link SampleDatabase} until {@link #close()}. The first round runs every
 * {@link Operation} once, in declaration order; after that the seed chooses them by weight.
 * Threading: {@link #start()} and {@link #close()} belong to the owner; the counters may be read from any thread.
 * <p>
 * The table {@code app.audit_log} has no identity: only its inserts can be replicated. The workload's updates and
 * deletes there must succeed on the source but leave its rows as they were (a no-op SET, a predicate matching
 * nothing), so {@link DatabaseComparison} can still expect identical databases after a migration.
 */
public final class Workload implements AutoCloseable {
    private static final Duration JOIN_TIMEOUT = Duration.ofSeconds(30);

    private final Supplier<Connection> source;
    private final long seed;
    private final int maxTransactionsPerSecond;
    private final Map<Operation, Long> operations = new EnumMap<>(Operation.class);
    private final Object progress = new Object();
    private long transactions;
    private long rolledBack;
    private volatile boolean running;
    private volatile Throwable failure;
    private Thread writer;
    private Connection connection;

    /** A workload that runs as fast as the server lets it; {@code seed} fixes the choice of operations. */
    public Workload(Supplier<Connection> source, long seed) {
        this(source, seed, 0);
    }

    /** @param maxTransactionsPerSecond a pace for demos; 0 for as fast as possible */
    public Workload(Supplier<Connection> source, long seed, int maxTransactionsPerSecond) {
        if (maxTransactionsPerSecond < 0) throw new IllegalArgumentException("maxTransactionsPerSecond < 0: " + maxTransactionsPerSecond);
        this.source = source;
        this.seed = seed;
        this.maxTransactionsPerSecond = maxTransactionsPerSecond;
    }

    /** Opens the connection (failing here, in the caller, if it cannot) and starts the writer thread. */
    public synchronized void start() {
        if (writer != null) throw new IllegalStateException("the workload was already started");
        try {
            connection = source.get();
            connection.setAutoCommit(false);
            try (Statement s = connection.createStatement()) {
                s.execute("SET TimeZone = 'UTC'");
            }
            connection.commit();
            int major = connection.getMetaData().getDatabaseMajorVersion();
            WorkloadTransactions steps = new WorkloadTransactions(connection, new Random(seed), major);
            running = true;
            writer = new Thread(() -> loop(steps, new Random(seed ^ 0x5DEECE66DL)), "ferry-demo-writer");
            writer.setDaemon(true);
            writer.start();
        } catch (SQLException e) {
            throw new IllegalStateException("the demo workload could not prepare its connection: " + e.getMessage(), e);
        }
    }

    private void loop(WorkloadTransactions steps, Random chooser) {
        Operation[] all = Operation.values();
        int totalWeight = 0;
        for (Operation o : all) totalWeight += o.weight();
        long round = 0;
        long startNanos = System.nanoTime();
        try {
            while (running) {
                Operation next = round < all.length ? all[(int) round] : choose(all, chooser.nextInt(totalWeight));
                int committed = steps.run(next);
                round++;
                synchronized (progress) {
                    operations.merge(next, 1L, Long::sum);
                    transactions += committed;
                    if (committed == 0) rolledBack++;
                    progress.notifyAll();
                }
                pace(round, startNanos);
            }
        } catch (Throwable t) {
            failure = t;
            synchronized (progress) {
                progress.notifyAll();
            }
        }
    }

    private static Operation choose(Operation[] all, int point) {
        for (Operation o : all) {
            point -= o.weight();
            if (point < 0) return o;
        }
        throw new IllegalStateException("weights changed while choosing");
    }

    private void pace(long done, long startNanos) {
        if (maxTransactionsPerSecond == 0) return;
        long due = startNanos + done * 1_000_000_000L / maxTransactionsPerSecond;
        long wait = due - System.nanoTime();
        if (wait > 0) LockSupport.parkNanos(wait); // pacing a demo, not synchronising with anything
    }

    /** Transactions committed so far. */
    public long transactions() {
        synchronized (progress) {
            return transactions;
        }
    }

    /** Transactions the workload rolled back on purpose (operation {@link Operation#ROLLBACK}). */
    public long rolledBack() {
        synchronized (progress) {
            return rolledBack;
        }
    }

    /** How many times each operation ran (completed, committed or deliberately rolled back). */
    public Map<Operation, Long> operations() {
        synchronized (progress) {
            Map<Operation, Long> copy = new EnumMap<>(Operation.class);
            for (Operation o : Operation.values()) copy.put(o, operations.getOrDefault(o, 0L));
            return copy;
        }
    }

    /** Waits until at least {@code n} transactions committed; fails at once if the writer failed, or when {@code timeout} passes. */
    public void awaitTransactions(long n, Duration timeout) {
        long end = System.nanoTime() + timeout.toNanos();
        synchronized (progress) {
            while (transactions < n) {
                rethrowFailure();
                long left = end - System.nanoTime();
                if (left <= 0) {
                    throw new IllegalStateException("the demo workload committed " + transactions + " of " + n
                            + " transactions in " + timeout.toSeconds() + " s", new TimeoutException());
                }
                try {
                    progress.wait(Math.max(1, left / 1_000_000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while waiting for the demo workload", e);
                }
            }
        }
    }

    /** Stops the writer after its current transaction, joins it, closes its connection, and rethrows any error it hit. */
    @Override
    public synchronized void close() {
        running = false;
        if (writer != null) {
            try {
                writer.join(JOIN_TIMEOUT.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (writer.isAlive()) {
                throw new IllegalStateException("the demo workload's writer did not stop within " + JOIN_TIMEOUT.toSeconds() + " s");
            }
            writer = null;
            try {
                connection.close();
            } catch (SQLException e) {
                if (failure == null) failure = e;
            }
        }
        rethrowFailure();
    }

    private void rethrowFailure() {
        Throwable t = failure;
        if (t == null) return;
        if (t instanceof Error error) throw error;
        throw new IllegalStateException("the demo workload failed: " + t.getMessage(), t);
    }
}
