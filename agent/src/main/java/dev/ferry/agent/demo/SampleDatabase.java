package dev.ferry.agent.demo;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The sample database of {@code ferry demo} and the end-to-end tests: schemas {@code app} and
 * {@code "Ünïcode Schema"}, small but holding the cases that break migrations (see demo/schema.sql).
 * Filled deterministically from the requested size, so two servers filled alike hold the same rows.
 */
public final class SampleDatabase {
    private static final String SCHEMA_RESOURCE = "/demo/schema.sql";
    private static final String DATA_RESOURCE = "/demo/data.sql";
    private static final Pattern PLACEHOLDER = Pattern.compile("\\$\\{([a-z_]+)}");

    private SampleDatabase() {}

    /** Creates the sample schema and fills it (about {@code rows} rows in the main tables). Runs as a superuser on the source. */
    public static void create(Connection source, int rows) throws SQLException {
        if (rows < 1) throw new IllegalArgumentException("rows must be at least 1, got " + rows);
        boolean autoCommit = source.getAutoCommit();
        boolean xml = supportsXml(source);
        int major = source.getMetaData().getDatabaseMajorVersion();
        String data = fill(resource(DATA_RESOURCE), placeholders(rows, major, xml));
        source.setAutoCommit(false);
        try (Statement s = source.createStatement()) {
            s.execute(schemaSql());
            s.execute(data);
            source.commit();
        } catch (SQLException | RuntimeException e) {
            source.rollback();
            throw e;
        } finally {
            source.setAutoCommit(autoCommit);
        }
    }

    /** The complete DDL as one SQL script (tables, indexes, constraints), for targets prepared by hand ({@code --schema existing}). */
    public static String schemaSql() {
        return resource(SCHEMA_RESOURCE);
    }

    /** Whether numeric accepts Infinity: PostgreSQL 14 and later. On 13 those rows hold NULL instead. */
    public static boolean supportsNumericInfinity(int serverMajor) {
        return serverMajor >= 14;
    }

    private static Map<String, String> placeholders(int rows, int major, boolean xml) {
        Map<String, String> values = new LinkedHashMap<>();
        values.put("customers", String.valueOf(Math.max(10, rows / 5)));
        values.put("products", "50");
        values.put("orders", String.valueOf(rows));
        values.put("types", String.valueOf(Math.max(20, rows / 10)));
        values.put("documents", String.valueOf(Math.min(200, Math.max(5, rows / 50))));
        values.put("events", String.valueOf(rows));
        values.put("page_views", String.valueOf(Math.max(20, rows / 10)));
        values.put("items", String.valueOf(Math.max(10, rows / 10)));
        boolean infinity = supportsNumericInfinity(major);
        values.put("numeric_infinity", infinity ? "'Infinity'::numeric" : "NULL::numeric");
        values.put("numeric_minus_infinity", infinity ? "'-Infinity'::numeric" : "NULL::numeric");
        // Servers built without libxml reject every xml value; the column then stays NULL.
        values.put("xml", xml ? "('<row id=\"' || i || '\">café &amp; <b>bold</b></row>')::xml" : "NULL::xml");
        return values;
    }

    private static boolean supportsXml(Connection connection) throws SQLException {
        boolean autoCommit = connection.getAutoCommit();
        connection.setAutoCommit(true);
        try (Statement s = connection.createStatement()) {
            s.execute("SELECT '<a/>'::xml");
            return true;
        } catch (SQLException e) {
            if ("0A000".equals(e.getSQLState())) return false; // feature_not_supported: built without libxml
            throw e;
        } finally {
            connection.setAutoCommit(autoCommit);
        }
    }

    private static String fill(String template, Map<String, String> values) {
        Matcher m = PLACEHOLDER.matcher(template);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String value = values.get(m.group(1));
            if (value == null) throw new IllegalStateException("no value for ${" + m.group(1) + "} in " + DATA_RESOURCE);
            m.appendReplacement(out, Matcher.quoteReplacement(value));
        }
        m.appendTail(out);
        return out.toString();
    }

    static String resource(String name) {
        try (InputStream in = SampleDatabase.class.getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException("resource " + name + " is missing from the ferry jar");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("could not read resource " + name, e);
        }
    }
}
