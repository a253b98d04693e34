package dev.ferry.agent.demo;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * The demo's source database: every common column type, partitions, TOASTed values, a generated column, hostile
 * identifiers, a table without a tuple identifier and one with REPLICA IDENTITY FULL holding duplicates, foreign keys
 * with ON DELETE CASCADE, identity columns and sequences. Also what the end-to-end tests migrate.
 */
public final class SampleDatabase {
    private SampleDatabase() {}

    /** The complete DDL as one SQL script, for targets prepared by hand (`--schema existing`). */
    public static String schemaSql() {
        try (InputStream in = SampleDatabase.class.getResourceAsStream("/demo/schema.sql")) {
            if (in == null) throw new IllegalStateException("demo/schema.sql is missing from the jar");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Creates the sample schema and fills it (about {@code rows} rows in the main tables). Runs as a superuser on the source. */
    public static void create(Connection source, int rows) throws SQLException {
        boolean infinityNumerics = major(source) >= 14;
        try (Statement s = source.createStatement()) {
            s.execute(schemaSql());
            s.execute("INSERT INTO shop.customers (email, name, code, active, born, wakes, wakes_tz, created, updated, nap, token, prefs, profile,"
                    + " doc, ip, net, mac, balance, tags, scores, addr, visits, search, spot, valid, avatar, small, score)"
                    + " SELECT 'user' || g || '@example.com', 'Name ' || g || CASE WHEN g % 7 = 0 THEN ' O''Brien' ELSE '' END, lpad(g::text, 8, '0'),"
                    + " g % 3 <> 0, date '1970-01-01' + g, time '06:30' + g * interval '1 minute', timetz '07:00+02', timestamp '2024-01-01 12:00' + g * interval '1 hour',"
                    + " timestamptz '2024-06-01 00:00+00' + g * interval '1 second', g * interval '1 minute 1.5 seconds', md5(g::text)::uuid,"
                    + " json_build_object('theme', 'dark', 'n', g), jsonb_build_object('level', g % 10, 'tags', jsonb_build_array('a', g)),"
                    + " xmlparse(content '<p id=\"' || g || '\">x</p>'), ('10.0.' || (g % 250) || '.1')::inet, '10.1.0.0/16', '08:00:2b:01:02:03',"
                    + " (g * 1.25)::money, ARRAY['t' || g, 'quote\"d', 'com,ma'], ARRAY[g, g * 2, NULL], ROW('Main St ' || g, 'Zürich', '800' || g)::shop.address,"
                    + " g % 100 + 1, to_tsvector('english', 'the quick brown fox ' || g), point(g, -g), daterange('2024-01-01', '2024-12-31'),"
                    + " decode(md5(g::text), 'hex'), (g % 30000)::smallint, CASE WHEN g % 11 = 0 THEN 'NaN'::real ELSE g / 3.0 END"
                    + " FROM generate_series(1, " + rows + ") g");
            s.execute("INSERT INTO shop.orders (customer_id, status, amount, tax, ratio, note)"
                    + " SELECT 1 + g % " + rows + ", (ARRAY['new', 'paid', 'shipped', 'cancelled']::shop.status[])[1 + g % 4], g * 0.37,"
                    + " CASE WHEN g % 13 = 0 THEN 'NaN' " + (infinityNumerics ? "WHEN g % 17 = 0 THEN 'Infinity' WHEN g % 19 = 0 THEN '-Infinity' " : "")
                    + " ELSE g * 0.0825 END::numeric, CASE WHEN g % 23 = 0 THEN 'Infinity'::float8 ELSE g / 7.0 END, 'order ' || g"
                    + " FROM generate_series(1, " + (2 * rows) + ") g");
            s.execute("INSERT INTO shop.order_items SELECT o.id, l, 'SKU-' || o.id || '-' || l, l FROM shop.orders o, generate_series(1, 2) l");
            s.execute("INSERT INTO shop.metrics SELECT date '2024-01-01' + (g % 1000), g, CASE WHEN g % 29 = 0 THEN 'NaN' ELSE g * 1.5 END"
                    + " FROM generate_series(1, " + rows + ") g");
            s.execute("INSERT INTO shop.documents SELECT g, 'doc ' || g, repeat(md5(g::text), 400), decode(repeat(md5(g::text), 300), 'hex'),"
                    + " (SELECT jsonb_agg(md5((g * 1000 + i)::text)) FROM generate_series(1, 300) i) FROM generate_series(1, 20) g");
            s.execute("INSERT INTO shop.audit_log (actor, action) SELECT 'user' || g, 'login' FROM generate_series(1, " + rows / 10 + ") g");
            s.execute("INSERT INTO shop.page_views SELECT '/page/' || (g % 20), 1, '{\"dup\": true}' FROM generate_series(1, " + rows / 10 + ") g");
            s.execute("INSERT INTO \"Ünïcode Schema\".\"Order \"\"Items\"\"\" SELECT g, 'Größe ' || g, '🎉 ' || g FROM generate_series(1, 100) g");
            s.execute("SELECT nextval('shop.invoice_numbers') FROM generate_series(1, 10)");
            s.execute("ANALYZE");
        }
    }

    static int major(Connection connection) throws SQLException {
        try (Statement s = connection.createStatement();
             ResultSet rs = s.executeQuery("SELECT current_setting('server_version_num')::int / 10000")) {
            rs.next();
            return rs.getInt(1);
        }
    }
}
