package dev.ferry.agent.demo;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;

/**
 * The SQL of each {@link Operation}, run on one connection in manual-commit mode. Every value and every row choice
 * comes from the {@link Random}, so a seed replays the same choices on the same data. Rows are picked by a random
 * point in the key range ({@code id >= min + (max - min) * r}), which stays cheap however large a table grows.
 * Only the workload's writer thread uses an instance.
 */
final class WorkloadTransactions {
    private static final String[] STATUSES = {"new", "paid", "shipped", "cancelled"};
    private static final String[] KINDS = {"login", "logout", "purchase", "error"};

    private final Connection connection;
    private final Random random;
    private final boolean numericInfinity;

    WorkloadTransactions(Connection connection, Random random, int serverMajor) {
        this.connection = connection;
        this.random = random;
        this.numericInfinity = SampleDatabase.supportsNumericInfinity(serverMajor);
    }

    /** Runs one operation; returns how many transactions it committed (0 for a rollback, 2 for truncate-then-refill). */
    int run(Operation operation) throws SQLException {
        switch (operation) {
            case INSERT_ORDER -> insertOrder(anyCustomer());
            case UPDATE_ORDER -> updateOrder();
            case DELETE_ORDER -> deleteOrder();
            case INSERT_CUSTOMER -> insertCustomer();
            case DELETE_CUSTOMER -> deleteCustomer();
            case CHANGE_PRODUCT_KEY -> changeProductKey();
            case CHANGE_LINE_KEY -> changeLineKey();
            case UPDATE_DOCUMENT_KEEP_TOAST -> execute("UPDATE app.documents SET version = version + 1, title = ? WHERE id = ?",
                    "Document rev " + random.nextInt(1000), pickDocument());
            case UPDATE_DOCUMENT_TOAST -> execute("UPDATE app.documents SET version = version + 1, body = "
                    + "(SELECT string_agg(md5(? || ':' || g), '' ORDER BY g) FROM generate_series(1, 300) g) WHERE id = ?",
                    String.valueOf(random.nextLong()), pickDocument());
            case INSERT_EVENT -> insertEvent();
            case MOVE_EVENT_PARTITION -> moveEvent();
            case DELETE_EVENT -> deleteEvent();
            case NUMERIC_SPECIAL_VALUES -> numericSpecialValues();
            case INSERT_DUPLICATE -> insertDuplicate();
            case UPDATE_ONE_DUPLICATE -> oneDuplicate("UPDATE app.page_views SET hits = hits + 1 WHERE ctid = ?::tid");
            case DELETE_ONE_DUPLICATE -> oneDuplicate("DELETE FROM app.page_views WHERE ctid = ?::tid");
            case NO_IDENTITY_INSERT -> execute("INSERT INTO app.audit_log (table_name, op, row_id, note) VALUES ('app', 'NOTE', ?, ?)",
                    (long) random.nextInt(1000), "note " + random.nextInt(1_000_000));
            // The no-identity table's changes are not replicated (only its inserts are), so these two leave its
            // contents as they were: the source must accept them, and the comparison stays meaningful.
            case NO_IDENTITY_UPDATE -> execute("UPDATE app.audit_log SET note = note WHERE row_id = ?", (long) random.nextInt(1000));
            case NO_IDENTITY_DELETE -> execute("DELETE FROM app.audit_log WHERE row_id = ? AND op = 'NEVER LOGGED'", (long) random.nextInt(1000));
            case TRUNCATE_AND_REFILL -> {
                execute("TRUNCATE app.settings");
                refillSettings();
            }
            case TRUNCATE_THEN_REFILL -> {
                execute("TRUNCATE app.settings");
                connection.commit();
                refillSettings();
                connection.commit();
                return 2;
            }
            case UPSERT_HOSTILE_NAMES -> upsertHostileNames();
            case SEQUENCE_NEXTVAL -> execute("SELECT nextval('app.invoice_number_seq')");
            case MULTI_TABLE -> multiTable();
            case ROLLBACK -> {
                insertOrder(anyCustomer());
                execute("UPDATE app.settings SET value = 'rolled back' WHERE key = 'key.1'");
                connection.rollback();
                return 0;
            }
            default -> throw new IllegalStateException("unhandled " + operation);
        }
        connection.commit();
        return 1;
    }

    private void insertOrder(long customerId) throws SQLException {
        long orderId = queryLong("INSERT INTO app.orders (customer_id, status, ordered_on, total, shipping, tags, quantities, note) "
                        + "VALUES (?, ?::app.order_status, ?::date, ?::numeric, ROW(?, 'Berlin', ?)::app.address, ?::text[], ?::integer[], ?) RETURNING id",
                customerId, STATUSES[random.nextInt(2)], date(), String.valueOf(random.nextInt(100_000) / 100.0),
                random.nextInt(500) + " Hauptstraße", String.format("%05d", random.nextInt(100_000)),
                "{new,\"tag " + random.nextInt(5) + "\"}", "{" + random.nextInt(10) + "," + random.nextInt(10) + "}",
                random.nextBoolean() ? null : "note \"" + random.nextInt(1000) + "\"");
        int lines = 1 + random.nextInt(3);
        for (int line = 1; line <= lines; line++) {
            execute("INSERT INTO app.order_lines (order_id, line_no, product_sku, quantity, unit_price) VALUES (?, ?, ?, ?, ?::numeric)",
                    orderId, line, anyProduct(), 1 + random.nextInt(9), String.valueOf(1 + random.nextInt(9999) / 100.0));
        }
    }

    private void updateOrder() throws SQLException {
        Optional<Long> id = pickOrder();
        if (id.isEmpty()) return;
        execute("UPDATE app.orders SET status = ?::app.order_status, note = ?, tags = tags || ?::text WHERE id = ?",
                STATUSES[random.nextInt(STATUSES.length)], "updated " + random.nextInt(1000), "t" + random.nextInt(3), id.get());
    }

    private void deleteOrder() throws SQLException {
        Optional<Long> id = pickOrder();
        if (id.isPresent()) execute("DELETE FROM app.orders WHERE id = ?", id.get());
    }

    private long insertCustomer() throws SQLException {
        int n = random.nextInt(1_000_000_000);
        // The email must be unique; the standalone sequence makes it so across runs with the same seed.
        return queryLong("INSERT INTO app.customers (email, name, country, created_at) VALUES "
                        + "('new' || nextval('app.invoice_number_seq') || '@example.com', ?, ?, ?::timestamptz) RETURNING id",
                "Ñew Customer " + n, random.nextBoolean() ? "DE" : "NZ", "2024-06-01 12:00:00+00");
    }

    private void deleteCustomer() throws SQLException {
        Optional<List<Object>> row = pickRow("app.customers", "id", "id");
        if (row.isPresent()) execute("DELETE FROM app.customers WHERE id = ?", row.get().get(0));
    }

    private void changeProductKey() throws SQLException {
        String sku = anyProduct();
        execute("UPDATE app.products SET sku = 'SKU-R' || nextval('app.invoice_number_seq'), price = price + 0.01 WHERE sku = ?", sku);
    }

    private void changeLineKey() throws SQLException {
        Optional<List<Object>> row = pickRow("app.order_lines", "order_id", "order_id, line_no");
        if (row.isEmpty()) return;
        Object orderId = row.get().get(0);
        execute("UPDATE app.order_lines SET line_no = (SELECT max(line_no) + 1 FROM app.order_lines WHERE order_id = ?) "
                + "WHERE order_id = ? AND line_no = ?", orderId, orderId, row.get().get(1));
    }

    private void insertEvent() throws SQLException {
        execute("INSERT INTO app.events (occurred_on, kind, payload) VALUES (?::date, ?, ?::jsonb)",
                date(), KINDS[random.nextInt(KINDS.length)], "{\"seq\": " + random.nextInt(1_000_000) + ", \"by\": \"workload\"}");
    }

    private void deleteEvent() throws SQLException {
        Optional<List<Object>> row = pickRow("app.events", "id", "id, occurred_on::text");
        if (row.isPresent()) execute("DELETE FROM app.events WHERE id = ? AND occurred_on = ?::date", row.get().get(0), row.get().get(1));
    }

    private void moveEvent() throws SQLException {
        Optional<List<Object>> row = pickRow("app.events", "id", "id, occurred_on::text");
        if (row.isEmpty()) return;
        LocalDate from = LocalDate.parse((String) row.get().get(1));
        // Another year from 2023-2026 (2026 lands in the default partition), so the row always changes partition.
        int year = 2023 + (from.getYear() - 2023 + 1 + random.nextInt(3)) % 4;
        execute("UPDATE app.events SET occurred_on = ?::date, kind = kind || '.moved' WHERE id = ? AND occurred_on = ?::date",
                from.withYear(year).toString(), row.get().get(0), from.toString());
    }

    private void numericSpecialValues() throws SQLException {
        String[] numerics = numericInfinity ? new String[] {"NaN", "Infinity", "-Infinity", "0.000000000000000000001", "-12345678901234567890.5"}
                : new String[] {"NaN", "0.000000000000000000001", "-12345678901234567890.5"};
        String[] floats = {"NaN", "Infinity", "-Infinity", "-0", "1.7976931348623157e308", "4.9e-324"};
        execute("UPDATE app.all_types SET c_numeric = ?::numeric, c_float8 = ?::float8, c_float4 = ?::real WHERE id = ?",
                numerics[random.nextInt(numerics.length)], floats[random.nextInt(floats.length)], floats[random.nextInt(3)],
                pickOne("app.all_types", "id"));
    }

    private void insertDuplicate() throws SQLException {
        String path = "/page/" + random.nextInt(10);
        int visitor = random.nextInt(4);
        for (int i = 0; i < 2; i++) {
            execute("INSERT INTO app.page_views (path, visitor, viewed_on, hits) VALUES (?, ?, date '2024-01-01', 1)", path, visitor);
        }
    }

    /** Runs {@code sql} on the physical row (ctid) of one row that has at least one identical twin. */
    private void oneDuplicate(String sql) throws SQLException {
        Optional<List<Object>> row = queryRow("SELECT ctid::text FROM app.page_views WHERE (path, visitor, viewed_on, hits) = "
                + "(SELECT path, visitor, viewed_on, hits FROM app.page_views WHERE path = ? "
                + "GROUP BY 1, 2, 3, 4 HAVING count(*) > 1 ORDER BY 2, 3, 4 LIMIT 1) LIMIT 1", "/page/" + random.nextInt(10));
        if (row.isPresent()) execute(sql, row.get().get(0));
    }

    private void refillSettings() throws SQLException {
        execute("INSERT INTO app.settings (key, value) SELECT 'key.' || i, 'value ' || i || ' round ' || ? FROM generate_series(1, 10) i",
                random.nextInt(1000));
    }

    private void upsertHostileNames() throws SQLException {
        if (random.nextBoolean()) {
            execute("INSERT INTO \"Ünïcode Schema\".\"Order \"\"Items\"\"\" (\"Weird Col\", \"naïve Ωmega\", \"select\") VALUES (?, ?::numeric, ?)",
                    "ñew \"" + random.nextInt(1000) + "\" 'quoted' \\", String.valueOf(random.nextInt(100_000) / 1000.0), random.nextBoolean());
        } else {
            Optional<List<Object>> row = pickRow("\"Ünïcode Schema\".\"Order \"\"Items\"\"\"", "\"ID\"", "\"ID\"");
            if (row.isPresent()) {
                execute("UPDATE \"Ünïcode Schema\".\"Order \"\"Items\"\"\" SET \"Weird Col\" = ?, \"select\" = NOT \"select\" WHERE \"ID\" = ?",
                        "ûpdated " + random.nextInt(1000), row.get().get(0));
            }
        }
    }

    private void multiTable() throws SQLException {
        long customer = insertCustomer();
        insertOrder(customer);
        insertEvent();
        execute("UPDATE app.settings SET value = ? WHERE key = ?", "multi " + random.nextInt(1000), "key." + (1 + random.nextInt(10)));
        insertDuplicate();
        execute("UPDATE app.documents SET version = version + 1 WHERE id = ?", pickDocument());
    }

    private long anyCustomer() throws SQLException {
        Optional<List<Object>> row = pickRow("app.customers", "id", "id");
        return row.isPresent() ? ((Number) row.get().get(0)).longValue() : insertCustomer();
    }

    private String anyProduct() throws SQLException {
        return (String) queryRow("SELECT sku FROM app.products ORDER BY sku OFFSET ? LIMIT 1", random.nextInt(50))
                .or(() -> uncheckedRow("SELECT sku FROM app.products ORDER BY sku LIMIT 1"))
                .orElseThrow(() -> new IllegalStateException("app.products is empty; the sample database was not created"))
                .get(0);
    }

    private Optional<Long> pickOrder() throws SQLException {
        return pickRow("app.orders", "id", "id").map(row -> ((Number) row.get(0)).longValue());
    }

    private int pickDocument() throws SQLException {
        return ((Number) pickOne("app.documents", "id")).intValue();
    }

    private Object pickOne(String table, String key) throws SQLException {
        return pickRow(table, key, key).orElseThrow(() -> new IllegalStateException(table + " is empty; the sample database was not created")).get(0);
    }

    /** One row at a random point of {@code key}'s range (numeric keys only); empty when the table is. */
    private Optional<List<Object>> pickRow(String table, String key, String columns) throws SQLException {
        return queryRow("SELECT " + columns + " FROM " + table + " WHERE " + key + " >= (SELECT min(" + key + ") + ((max(" + key + ") - min("
                + key + ")) * ?::float8)::bigint FROM " + table + ") ORDER BY " + key + " LIMIT 1", random.nextDouble());
    }

    private String date() {
        return LocalDate.of(2023, 1, 1).plusDays(random.nextInt(1400)).toString();
    }

    private void execute(String sql, Object... parameters) throws SQLException {
        try (PreparedStatement ps = prepare(sql, parameters)) {
            ps.execute();
        }
    }

    private long queryLong(String sql, Object... parameters) throws SQLException {
        return ((Number) queryRow(sql, parameters).orElseThrow().get(0)).longValue();
    }

    private Optional<List<Object>> queryRow(String sql, Object... parameters) throws SQLException {
        try (PreparedStatement ps = prepare(sql, parameters); ResultSet rs = ps.executeQuery()) {
            if (!rs.next()) return Optional.empty();
            List<Object> row = new ArrayList<>();
            for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) row.add(rs.getObject(i));
            return Optional.of(row);
        }
    }

    private Optional<List<Object>> uncheckedRow(String sql) {
        try {
            return queryRow(sql);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    private PreparedStatement prepare(String sql, Object... parameters) throws SQLException {
        PreparedStatement ps = connection.prepareStatement(sql);
        for (int i = 0; i < parameters.length; i++) ps.setObject(i + 1, parameters[i]);
        return ps;
    }
}
