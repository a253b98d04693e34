package dev.ferry.agent.state;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which `ferry run` process holds a migration: its host, its process id and since when, so a second agent, `ferry
 * status` and `ferry cutover` can name it. The agent's lock session carries it as its application_name.
 *
 * @param since when it took the lock; empty when the target hides other roles' session start from this role
 */
public record AgentIdentity(String host, long pid, Optional<Instant> since) {
    // NOTE: pg_stat_activity shows this; AgentLock reads it back. PostgreSQL keeps 63 bytes of an application_name.
    private static final Pattern APPLICATION_NAME = Pattern.compile("ferry agent pid (\\d+) on (.*)");

    /** This process, now. */
    public static AgentIdentity current() {
        return new AgentIdentity(localHost(), ProcessHandle.current().pid(), Optional.of(Instant.now().truncatedTo(ChronoUnit.SECONDS)));
    }

    String applicationName() {
        String name = "ferry agent pid " + pid + " on " + host.replaceAll("[^\\x20-\\x7e]", "?");
        return name.length() > 63 ? name.substring(0, 63) : name;
    }

    /** Reads back {@link #applicationName()}; empty when the session is not an agent's. */
    static Optional<AgentIdentity> fromApplicationName(String applicationName, Optional<Instant> since) {
        if (applicationName == null) return Optional.empty();
        Matcher m = APPLICATION_NAME.matcher(applicationName);
        return m.matches() ? Optional.of(new AgentIdentity(m.group(2), Long.parseLong(m.group(1)), since)) : Optional.empty();
    }

    /** "pid 4711 on host tools-1, since 2026-11-27T12:00:05Z": for messages and `ferry status`. */
    public String describe() {
        return "pid " + pid + " on host " + host + since.map(s -> ", since " + s).orElse("");
    }

    /** The kernel's host name where there is one: InetAddress would resolve it, which can take seconds without DNS. */
    private static String localHost() {
        try {
            String name = Files.readString(Path.of("/proc/sys/kernel/hostname")).trim();
            if (!name.isEmpty()) return name;
        } catch (IOException | RuntimeException e) {
            // not Linux: ask the JDK below
        }
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return Optional.ofNullable(System.getenv("HOSTNAME")).orElse("unknown host");
        }
    }
}
