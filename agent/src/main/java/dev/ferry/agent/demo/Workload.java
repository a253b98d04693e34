package dev.ferry.agent.demo;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

/**
 * A live application writing to the sample database: small transactions of every kind a migration must carry, in
 * an order drawn from a seed. Runs on its own thread ({@code ferry-demo-writer}) until closed.
 */
public final class Workload implements AutoCloseable {
    /** The kinds of transaction the writer runs; {@link #counts()} tells how many of each committed. */
    public enum Kind {
        NEW_ORDER, UPDATE_ORDER, CHANGE_PRIMARY_KEY, UPDATE_BESIDE_TOAST, DELETE_ORDER, DELETE_CUSTOMER, TRUNCATE_AND_REFILL,
        MOVE_PARTITION, NAN_INFINITY, DUPLICATE_ROWS, AUDIT_INSERT, SEQUENCE, ROLLBACK, ODD_NAMES, UPDATE_CUSTOMER
    }

    private final Supplier<Connection> source;
    private final Random random;
    private final AtomicLong transactions = new AtomicLong();
    private final Map<Kind, AtomicLong> counts = new EnumMap<>(Kind.class);
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile boolean stopped;
    private Thread thread;
    private boolean infinityNumerics;

    public Workload(Supplier<Connection> source, long seed) {
        this.source = source;
        this.random = new Random(seed);
        for (Kind kind : Kind.values()) counts.put(kind, new AtomicLong());
    }

    public void start() {
        thread = new Thread(this::run, "ferry-demo-writer");
        thread.setDaemon(true);
        thread.start();
    }

    public long transactions() {
        return transactions.get();
    }

    public Map<Kind, Long> counts() {
        Map<Kind, Long> copy = new EnumMap<>(Kind.class);
        counts.forEach((k, v) -> copy.put(k, v.get()));
        return copy;
    }

    /** Waits until at least {@code n} transactions committed; fails if the writer failed or the time runs out. */
    public void awaitTransactions(long n, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (transactions.get() < n) {
            if (failure.get() != null) throw new IllegalStateException("the workload failed", failure.get());
            if (System.nanoTime() > deadline) throw new IllegalStateException("the workload reached " + transactions.get() + " of " + n + " transactions in " + timeout);
            LockSupport.parkNanos(Duration.ofMillis(10).toNanos());
        }
    }

    @Override
    public void close() {
        stopped = true;
        if (thread != null) {
            try {
                thread.join(Duration.ofSeconds(30).toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (failure.get() != null) throw new IllegalStateException("the workload failed", failure.get());
    }

    private void run() {
        try (Connection c = source.get()) {
            infinityNumerics = SampleDatabase.major(c) >= 14;
            c.setAutoCommit(false);
            while (!stopped) {
                Kind kind = Kind.values()[random.nextInt(Kind.values().length)];
                try (Statement s = c.createStatement()) {
                    boolean commit = execute(kind, s);
                    if (commit) c.commit(); else c.rollback();
                }
                counts.get(kind).incrementAndGet();
                transactions.incrementAndGet();
            }
        } catch (Throwable e) {
            failure.set(e);
        }
    }

    /** Runs one transaction's statements; returns false when it is meant to roll back. */
    private boolean execute(Kind kind, Statement s) throws SQLException {
        int n = random.nextInt(1_000_000);
        switch (kind) {
            case NEW_ORDER -> {
                s.execute("INSERT INTO shop.customers (email, name, tags, profile, addr, visits) VALUES ('new" + n + "-" + System.nanoTime()
                        + "@example.com', 'New " + n + "', ARRAY['n" + n + "'], '{\"new\": true}', ROW('x', 'y', 'z'), 1)");
                s.execute("INSERT INTO shop.orders (customer_id, amount, tax, note) VALUES (currval(pg_get_serial_sequence('shop.customers', 'id')), "
                        + (n % 1000) + ".25, 0.08, 'fresh')");
                s.execute("INSERT INTO shop.order_items SELECT currval('shop.orders_id_seq'), l, 'SKU-new', l FROM generate_series(1, 3) l");
            }
            case UPDATE_ORDER -> s.execute("UPDATE shop.orders SET status = 'paid', amount = amount + 1, note = note || '+'"
                    + " WHERE id = (SELECT id FROM shop.orders ORDER BY id OFFSET " + (n % 500) + " LIMIT 1)");
            case CHANGE_PRIMARY_KEY -> s.execute("UPDATE shop.order_items SET line = line + 1000"
                    + " WHERE (order_id, line) = (SELECT order_id, line FROM shop.order_items WHERE line < 100000 ORDER BY order_id DESC, line OFFSET " + (n % 50) + " LIMIT 1)");
            case UPDATE_BESIDE_TOAST -> s.execute("UPDATE shop.documents SET title = 'edited " + n + "' WHERE id = " + (1 + n % 20));
            case DELETE_ORDER -> s.execute("DELETE FROM shop.orders WHERE id = (SELECT id FROM shop.orders ORDER BY id OFFSET " + (n % 300) + " LIMIT 1)");
            case DELETE_CUSTOMER -> s.execute("DELETE FROM shop.customers WHERE id = (SELECT id FROM shop.customers ORDER BY id DESC OFFSET " + (n % 50) + " LIMIT 1)");
            case TRUNCATE_AND_REFILL -> {
                if (n % 10 != 0) return true; // rare: a TRUNCATE blocks everyone on the table
                s.execute("TRUNCATE shop.page_views");
                s.execute("INSERT INTO shop.page_views SELECT '/page/' || (g % 5), g, '{\"dup\": true}' FROM generate_series(1, 20) g");
                s.execute("INSERT INTO shop.page_views SELECT '/page/' || (g % 5), g, '{\"dup\": true}' FROM generate_series(1, 20) g");
            }
            case MOVE_PARTITION -> s.execute("UPDATE shop.metrics SET ts = CASE WHEN ts >= '2026-01-01' THEN ts - 700 ELSE ts + 365 END"
                    + " WHERE sensor = " + (1 + n % 500));
            case NAN_INFINITY -> {
                String value = infinityNumerics ? (n % 3 == 0 ? "'Infinity'" : n % 3 == 1 ? "'-Infinity'" : "'NaN'") : "'NaN'";
                s.execute("UPDATE shop.orders SET tax = " + value + " WHERE id = (SELECT id FROM shop.orders ORDER BY id DESC OFFSET " + (n % 200) + " LIMIT 1)");
                s.execute("INSERT INTO shop.metrics VALUES (date '2024-01-01' + " + (n % 1000) + ", " + (100_000_000 + n) + ", " + value + ") ON CONFLICT DO NOTHING");
            }
            case DUPLICATE_ROWS -> {
                s.execute("INSERT INTO shop.page_views VALUES ('/dup', 1, '{\"dup\": true}'), ('/dup', 1, '{\"dup\": true}')");
                s.execute("UPDATE shop.page_views SET views = views + 1 WHERE ctid = (SELECT ctid FROM shop.page_views WHERE path = '/dup' LIMIT 1)");
                s.execute("DELETE FROM shop.page_views WHERE ctid = (SELECT ctid FROM shop.page_views WHERE path = '/dup' AND views = 1 LIMIT 1)");
            }
            case AUDIT_INSERT -> s.execute("INSERT INTO shop.audit_log (actor, action) VALUES ('writer', 'event " + n + "')");
            case SEQUENCE -> s.execute("SELECT nextval('shop.invoice_numbers')");
            case ROLLBACK -> {
                s.execute("INSERT INTO shop.audit_log (actor, action) VALUES ('writer', 'never seen')");
                s.execute("UPDATE shop.orders SET note = 'rolled back' WHERE id = (SELECT min(id) FROM shop.orders)");
                return false;
            }
            case ODD_NAMES -> {
                int key = 1 + n % 200;
                s.execute("INSERT INTO \"Ünïcode Schema\".\"Order \"\"Items\"\"\" VALUES (" + key + ", 'ä" + n + "', '🎉') ON CONFLICT (\"Weird Col\") DO UPDATE SET \"Mixed Case\" = EXCLUDED.\"Mixed Case\"");
                if (n % 4 == 0) s.execute("DELETE FROM \"Ünïcode Schema\".\"Order \"\"Items\"\"\" WHERE \"Weird Col\" = " + (1 + (n / 7) % 200));
            }
            case UPDATE_CUSTOMER -> s.execute("UPDATE shop.customers SET profile = profile || jsonb_build_object('seen', " + n + "), tags = tags || 'x'::text,"
                    + " scores = scores || " + n + ", balance = balance + 1::money, search = to_tsvector('simple', 'updated " + n + "'), spot = point(" + n + ", 0)"
                    + " WHERE id = (SELECT id FROM shop.customers ORDER BY id OFFSET " + (n % 400) + " LIMIT 1)");
            default -> throw new IllegalStateException("unhandled " + kind);
        }
        return true;
    }
}
