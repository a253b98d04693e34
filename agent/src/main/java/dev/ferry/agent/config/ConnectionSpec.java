package dev.ferry.agent.config;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;

import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;

/**
 * Where one server is and how to log in, parsed from a {@code postgres://} or {@code jdbc:postgresql://} URI.
 * The password is held here and only handed to the driver or to pg_dump's environment; {@link #toString()} and
 * {@link #masked()} never contain it. With no password in the URI, the driver and pg_dump read ~/.pgpass.
 */
public final class ConnectionSpec {
    private static final int DEFAULT_PORT = 5432;

    private final String host;
    private final int port;
    private final String database;
    private final String user;
    private final String password;
    private final Map<String, String> parameters;

    public ConnectionSpec(String host, int port, String database, String user, String password, Map<String, String> parameters) {
        this.host = host;
        this.port = port;
        this.database = database;
        this.user = user;
        this.password = password;
        this.parameters = Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
    }

    /**
     * Parses a URI given by the user. {@code role} ("source" or "target") names the setting in error messages.
     * Accepts {@code postgres://user:password@host:port/db?sslmode=require} and
     * {@code jdbc:postgresql://host:port/db?user=u&password=p}.
     */
    public static ConnectionSpec parse(String role, String uri) {
        if (uri == null || uri.isBlank()) {
            throw badUri(role, "(empty)", "no " + role + " connection was given.");
        }
        String text = uri.trim();
        String rest;
        if (text.startsWith("postgres://")) rest = text.substring("postgres://".length());
        else if (text.startsWith("postgresql://")) rest = text.substring("postgresql://".length());
        else if (text.startsWith("jdbc:postgresql://")) rest = text.substring("jdbc:postgresql://".length());
        else throw badUri(role, maskRaw(text), "it does not start with postgres://, postgresql:// or jdbc:postgresql://.");

        String query = "";
        int q = rest.indexOf('?');
        if (q >= 0) {
            query = rest.substring(q + 1);
            rest = rest.substring(0, q);
        }
        String user = null;
        String password = null;
        int at = rest.lastIndexOf('@');
        if (at >= 0) {
            String credentials = rest.substring(0, at);
            rest = rest.substring(at + 1);
            int colon = credentials.indexOf(':');
            user = decode(colon >= 0 ? credentials.substring(0, colon) : credentials);
            if (colon >= 0) password = decode(credentials.substring(colon + 1));
        }
        String hostPort = rest;
        String database = null;
        int slash = rest.indexOf('/');
        if (slash >= 0) {
            hostPort = rest.substring(0, slash);
            database = decode(rest.substring(slash + 1));
        }
        if (hostPort.contains(",")) {
            throw badUri(role, maskRaw(text), "it names several hosts; ferry needs the one primary server.");
        }
        String host = hostPort;
        int port = DEFAULT_PORT;
        int portColon = hostPort.lastIndexOf(':');
        if (portColon >= 0 && !hostPort.endsWith("]")) {
            host = hostPort.substring(0, portColon);
            String portText = hostPort.substring(portColon + 1);
            try {
                port = Integer.parseInt(portText);
            } catch (NumberFormatException e) {
                throw badUri(role, maskRaw(text), "the port '" + portText + "' is not a number.");
            }
            if (port < 1 || port > 65535) throw badUri(role, maskRaw(text), "the port " + port + " is outside 1-65535.");
        }
        if (host.isEmpty()) host = "localhost";

        Map<String, String> parameters = new LinkedHashMap<>();
        if (!query.isEmpty()) {
            for (String pair : query.split("&")) {
                if (pair.isEmpty()) continue;
                int eq = pair.indexOf('=');
                if (eq <= 0) throw badUri(role, maskRaw(text), "the parameter '" + pair + "' has no value.");
                String key = decode(pair.substring(0, eq));
                String value = decode(pair.substring(eq + 1));
                switch (key) {
                    case "user" -> user = value;
                    case "password" -> password = value;
                    case "dbname" -> database = value;
                    default -> parameters.put(key, value);
                }
            }
        }
        if (database == null || database.isEmpty()) {
            throw badUri(role, maskRaw(text), "it names no database; ferry migrates one database, named after the host: postgres://user@host:5432/DATABASE.");
        }
        if (user == null || user.isEmpty()) user = System.getProperty("user.name");
        return new ConnectionSpec(host, port, database, user, password, parameters);
    }

    private static FerryException badUri(String role, String shown, String why) {
        return new FerryException(
                "the " + role + " connection " + shown + " is not a usable PostgreSQL URI:",
                why,
                "pass --" + role + " postgres://USER:PASSWORD@HOST:PORT/DATABASE (or set FERRY_" + role.toUpperCase() + ").",
                ExitCode.BAD_INPUT, null);
    }

    private static String decode(String text) {
        return URLDecoder.decode(text.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    /** Masks the password of a URI we could not parse, for error messages. */
    static String maskRaw(String uri) {
        String masked = uri.replaceAll("(://[^:/@?]*:)[^@/?]*@", "$1****@");
        return masked.replaceAll("(?i)(password=)[^&]*", "$1****");
    }

    public String host() { return host; }

    public int port() { return port; }

    public String database() { return database; }

    public String user() { return user; }

    public Optional<String> password() { return Optional.ofNullable(password); }

    public Map<String, String> parameters() { return parameters; }

    /** The same server, another database (used to reach the maintenance database). */
    public ConnectionSpec withDatabase(String otherDatabase) {
        return new ConnectionSpec(host, port, otherDatabase, user, password, parameters);
    }

    /** JDBC URL without credentials; pair it with {@link #jdbcProperties()}. */
    public String jdbcUrl() {
        StringBuilder url = new StringBuilder("jdbc:postgresql://").append(hostForUrl()).append(':').append(port)
                .append('/').append(URLEncoder.encode(database, StandardCharsets.UTF_8).replace("+", "%20"));
        return url.toString();
    }

    /** Driver properties: user, password and the URI's parameters, plus ferry's application name. */
    public Properties jdbcProperties() {
        Properties props = new Properties();
        props.putAll(parameters);
        props.setProperty("user", user);
        if (password != null) props.setProperty("password", password);
        props.putIfAbsent("ApplicationName", "ferry");
        return props;
    }

    /** A libpq URI without the password, for pg_dump and psql; the password goes in {@link #libpqEnvironment()}. */
    public String libpqUri() {
        StringBuilder uri = new StringBuilder("postgresql://")
                .append(URLEncoder.encode(user, StandardCharsets.UTF_8).replace("+", "%20")).append('@')
                .append(hostForUrl()).append(':').append(port).append('/')
                .append(URLEncoder.encode(database, StandardCharsets.UTF_8).replace("+", "%20"));
        String separator = "?";
        for (Map.Entry<String, String> p : parameters.entrySet()) {
            if (!LIBPQ_PARAMETERS.contains(p.getKey())) continue;
            uri.append(separator).append(p.getKey()).append('=').append(URLEncoder.encode(p.getValue(), StandardCharsets.UTF_8));
            separator = "&";
        }
        return uri.toString();
    }

    // sslpassword stays out: a command line is visible to every user of the host, and ferry logs its tools' commands.
    private static final java.util.Set<String> LIBPQ_PARAMETERS = java.util.Set.of(
            "sslmode", "sslcert", "sslkey", "sslrootcert", "connect_timeout", "application_name", "options");

    /** Environment for libpq tools: the password, if any, travels here so it never shows on a command line. */
    public Map<String, String> libpqEnvironment() {
        return password == null ? Map.of() : Map.of("PGPASSWORD", password);
    }

    private String hostForUrl() {
        return host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
    }

    /** {@code postgres://user:****@host:port/db}: safe to print and log. */
    public String masked() {
        return "postgres://" + user + (password != null ? ":****" : "") + "@" + hostForUrl() + ":" + port + "/" + database;
    }

    @Override
    public String toString() {
        return masked();
    }
}
