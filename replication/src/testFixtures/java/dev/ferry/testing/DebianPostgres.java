package dev.ferry.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A server from Debian's postgresql-15 package, for what the embedded binaries lack: extensions installed into
 * /usr/lib/postgresql/15 (TimescaleDB), standbys made with pg_basebackup. Runs as the postgres user, as Debian's
 * server refuses root. Close it to stop the server and delete its data.
 */
public final class DebianPostgres implements AutoCloseable {
    public static final Path BIN = Path.of("/usr/lib/postgresql/15/bin");

    private final Path data;
    private final int port;

    private DebianPostgres(Path data, int port) {
        this.data = data;
        this.port = port;
    }

    public static boolean available() {
        return Files.isExecutable(BIN.resolve("postgres")) && Files.isExecutable(Path.of("/usr/sbin/runuser"));
    }

    /** Whether TimescaleDB is installed for this server (../shared/timescaledb/install.sh). */
    public static boolean timescaleAvailable() {
        return Files.exists(Path.of("/usr/share/postgresql/15/extension/timescaledb.control"));
    }

    /** initdb and start with logical replication and the given settings (e.g. shared_preload_libraries). */
    public static DebianPostgres start(Map<String, String> settings) {
        return start(settings, Map.of());
    }

    /**
     * Like {@link #start(Map)}, the server started with {@code environment} added to its own (e.g. LOCPATH, for
     * locales the host does not have).
     */
    public static DebianPostgres start(Map<String, String> settings, Map<String, String> environment) {
        try {
            Path data = Files.createTempDirectory("ferry-debian-pg-");
            run("chown", "postgres", data.toString());
            run("runuser", "-u", "postgres", "--", BIN.resolve("initdb").toString(), "-D", data.toString(), "-A", "trust", "-U", "postgres", "-E", "UTF8");
            return configureAndStart(data, settings, environment);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static DebianPostgres configureAndStart(Path data, Map<String, String> settings) {
        return configureAndStart(data, settings, Map.of());
    }

    private static DebianPostgres configureAndStart(Path data, Map<String, String> settings, Map<String, String> environment) {
        try {
            int port;
            try (ServerSocket free = new ServerSocket(0)) {
                port = free.getLocalPort();
            }
            StringBuilder conf = new StringBuilder("\nport = " + port + "\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '/tmp'\n"
                    + "wal_level = logical\nmax_replication_slots = 20\nmax_wal_senders = 20\nfsync = off\n");
            settings.forEach((k, v) -> conf.append(k).append(" = '").append(v).append("'\n"));
            Files.writeString(data.resolve("postgresql.conf"), conf.toString(), java.nio.file.StandardOpenOption.APPEND);
            List<String> start = new ArrayList<>(List.of("runuser", "-u", "postgres", "--", "env"));
            environment.forEach((k, v) -> start.add(k + "=" + v));
            start.addAll(List.of(BIN.resolve("pg_ctl").toString(), "-D", data.toString(), "-w", "-t", "60",
                    "-l", data.resolve("server.log").toString(), "start"));
            run(start.toArray(new String[0]));
            return new DebianPostgres(data, port);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A server that accepts logins over TCP only with TLS and a password (scram-sha-256) for user postgres, as
     * managed services do; a self-signed certificate is made with openssl.
     */
    public static DebianPostgres startWithPasswordAndTls(String password) {
        try {
            Path data = Files.createTempDirectory("ferry-debian-pg-");
            Path pwfile = data.resolveSibling(data.getFileName() + ".pw");
            Files.writeString(pwfile, password + "\n");
            run("chown", "postgres", data.toString(), pwfile.toString());
            run("runuser", "-u", "postgres", "--", BIN.resolve("initdb").toString(), "-D", data.toString(), "-U", "postgres", "-E", "UTF8",
                    "--pwfile=" + pwfile, "--auth-local=trust", "--auth-host=scram-sha-256");
            Files.delete(pwfile);
            run("openssl", "req", "-new", "-x509", "-days", "2", "-nodes", "-subj", "/CN=localhost",
                    "-keyout", data.resolve("server.key").toString(), "-out", data.resolve("server.crt").toString());
            run("chown", "postgres", data.resolve("server.key").toString(), data.resolve("server.crt").toString());
            run("chmod", "600", data.resolve("server.key").toString());
            Files.writeString(data.resolve("pg_hba.conf"), """
                    local all all trust
                    hostssl all all 127.0.0.1/32 scram-sha-256
                    hostssl replication all 127.0.0.1/32 scram-sha-256
                    """);
            return configureAndStart(data, Map.of("ssl", "on", "ssl_cert_file", "server.crt", "ssl_key_file", "server.key"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public int port() { return port; }

    /** The self-signed certificate (CN=localhost) of a server from {@link #startWithPasswordAndTls}: its own CA for sslrootcert. */
    public Path certificate() { return data.resolve("server.crt"); }

    public String uri(String database) { return "postgres://postgres@127.0.0.1:" + port + "/" + database; }

    public void execute(String database, String... sql) {
        try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/" + database + "?user=postgres");
             Statement s = c.createStatement()) {
            for (String each : sql) s.execute(each);
        } catch (SQLException e) {
            throw new IllegalStateException("SQL failed on Debian test server: " + e.getMessage(), e);
        }
    }

    static void run(String... command) {
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            if (!process.waitFor(120, TimeUnit.SECONDS) || process.exitValue() != 0) {
                throw new IllegalStateException(String.join(" ", command) + " failed");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        List<String> stop = new ArrayList<>(List.of("runuser", "-u", "postgres", "--", BIN.resolve("pg_ctl").toString(), "-D", data.toString(), "-m", "immediate", "stop"));
        run(stop.toArray(new String[0]));
        run("rm", "-rf", data.toString());
    }
}
