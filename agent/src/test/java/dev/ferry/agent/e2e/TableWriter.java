package dev.ferry.agent.e2e;

import dev.ferry.testing.Deadline;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * A live application for schema-change tests: one thread ({@code test-table-writer}) inserts, updates and deletes rows
 * of tables {@code (id int PRIMARY KEY, v int, ...)} in small transactions, naming only {@code id} and {@code v}, so
 * the tests may add, rename or retype other columns under it. Tables can be added while it runs.
 */
final class TableWriter implements AutoCloseable {
    private final Supplier<Connection> source;
    private final List<String> tables = new CopyOnWriteArrayList<>();
    private final AtomicLong transactions = new AtomicLong();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile boolean running = true;
    private final Thread thread;

    /** Starts writing to {@code tables}; ids from 1,000,000 up are its own, rows below are the test's. */
    TableWriter(Supplier<Connection> source, String... tables) {
        this.source = source;
        this.tables.addAll(List.of(tables));
        this.thread = new Thread(this::run, "test-table-writer");
        thread.setDaemon(true);
        thread.start();
    }

    void add(String table) {
        tables.add(table);
    }

    long transactions() {
        if (failure.get() != null) throw new AssertionError("the writer failed", failure.get());
        return transactions.get();
    }

    /** Waits for {@code more} transactions after now. */
    void awaitMore(long more, Duration timeout) {
        long target = transactions() + more;
        Deadline.await(more + " more writer transactions", timeout, () -> transactions() >= target);
    }

    private void run() {
        try (Connection c = source.get()) {
            c.setAutoCommit(false);
            long n = 1_000_000;
            while (running) {
                for (String table : tables) {
                    try (PreparedStatement insert = c.prepareStatement("INSERT INTO " + table + " (id, v) VALUES (?, ?)");
                         PreparedStatement update = c.prepareStatement("UPDATE " + table + " SET v = v + 1 WHERE id IN (?, ?)");
                         PreparedStatement delete = c.prepareStatement("DELETE FROM " + table + " WHERE id = ?")) {
                        insert.setLong(1, n);
                        insert.setLong(2, n % 97);
                        insert.executeUpdate();
                        update.setLong(1, n - 1);
                        update.setLong(2, n % 50 + 1);
                        update.executeUpdate();
                        delete.setLong(1, n - 3);
                        if (n % 4 == 0) delete.executeUpdate();
                    }
                }
                c.commit();
                n++;
                transactions.incrementAndGet();
            }
        } catch (SQLException | RuntimeException e) {
            if (running) failure.set(e);
        }
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        thread.join(Duration.ofSeconds(30).toMillis());
        if (failure.get() != null) throw new AssertionError("the writer failed", failure.get());
    }
}
