package dev.ferry.agent.tools;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A pg_dump and pg_restore pair of one version. pg_dump refuses to dump a server newer than itself, so ferry
 * picks a pair whose major version is at least the source's: from PATH first, then from the Debian/Ubuntu layout
 * {@code /usr/lib/postgresql/NN/bin}, newest first; or only from the directory --pg-dump-dir names. Its own package:
 * preflight checks for the tools before the schema stage uses them, and neither stage should import the other.
 */
public record PgDumpTool(Path pgDump, Path pgRestore, String version, int major) {
    private static final Pattern VERSION = Pattern.compile("\\(PostgreSQL\\) (\\d+)(?:\\.(\\d+))?(?:\\.\\d+)?");
    private static final Path DEBIAN_VERSIONS = Path.of("/usr/lib/postgresql");

    /** Pairs found so far in this process, by where ferry looked and source major version: preflight and the schema stage ask the same question. */
    private static final Map<String, PgDumpTool> FOUND = new ConcurrentHashMap<>();

    /**
     * Finds the first usable pair in PATH and the Debian layout, or fails naming every version found and the fix.
     * A pair once found is remembered (asking each binary for its version costs two process starts); a failure is not,
     * so tools installed after it are found.
     */
    public static PgDumpTool find(int sourceMajor, Optional<Path> pgDumpDir) {
        return FOUND.computeIfAbsent(pgDumpDir.map(Path::toString).orElse("") + "|" + sourceMajor,
                key -> pgDumpDir.isPresent() ? findIn(sourceMajor, pgDumpDir.get()) : find(sourceMajor, defaultDirectories()));
    }

    /** Only the pair in {@code dir}: the user chose it, so a missing or too old one is an error, not a reason to look elsewhere. */
    static PgDumpTool findIn(int sourceMajor, Path dir) {
        Optional<PgDumpTool> tool = at(dir);
        String install = "install PostgreSQL's client tools, version " + sourceMajor + " or later (Debian/Ubuntu: apt-get install postgresql-client-"
                + sourceMajor + "; RHEL: dnf install postgresql" + sourceMajor + ")";
        if (tool.isEmpty()) {
            throw new FerryException("--pg-dump-dir '" + dir + "' holds no usable pg_dump and pg_restore.",
                    "ferry runs " + dir.resolve("pg_dump") + " and " + dir.resolve("pg_restore") + " --version; both must exist, be executable and be of the same major version.",
                    install + " and pass the directory of their binaries (e.g. /usr/lib/postgresql/" + sourceMajor + "/bin), or leave --pg-dump-dir out to search PATH.",
                    ExitCode.BAD_INPUT, null);
        }
        if (tool.get().major() < sourceMajor) {
            throw new FerryException("pg_dump " + tool.get().version() + " in --pg-dump-dir '" + dir + "' is too old for the source, PostgreSQL " + sourceMajor + ".",
                    "pg_dump cannot dump a server of a newer major version than itself.",
                    install + " and pass its bin directory as --pg-dump-dir.", ExitCode.BAD_INPUT, null);
        }
        return tool.get();
    }

    public static PgDumpTool find(int sourceMajor, List<Path> directories) {
        List<PgDumpTool> found = new ArrayList<>();
        for (Path dir : directories) {
            Optional<PgDumpTool> tool = at(dir);
            if (tool.isEmpty()) continue;
            if (tool.get().major() >= sourceMajor) return tool.get();
            found.add(tool.get());
        }
        String fix = "install PostgreSQL's client tools, version " + sourceMajor + " or later (Debian/Ubuntu: apt-get install postgresql-client-"
                + sourceMajor + "; RHEL: dnf install postgresql" + sourceMajor + ") and pass its bin directory as --pg-dump-dir, or create the schema on the target by hand and run with --schema existing.";
        if (found.isEmpty()) {
            throw new FerryException("pg_dump and pg_restore were not found.",
                    "ferry copies the schema with them; it looked in PATH and in /usr/lib/postgresql/*/bin.", fix, ExitCode.BAD_INPUT, null);
        }
        StringBuilder seen = new StringBuilder();
        for (PgDumpTool t : found) seen.append(seen.length() == 0 ? "" : ", ").append("pg_dump ").append(t.version()).append(" (").append(t.pgDump()).append(')');
        throw new FerryException("pg_dump " + found.get(0).version() + " is too old for the source, PostgreSQL " + sourceMajor + ".",
                "pg_dump cannot dump a server of a newer major version than itself; ferry found " + seen + ".", fix, ExitCode.BAD_INPUT, null);
    }

    /** PATH, then /usr/lib/postgresql/NN/bin from the newest NN down. */
    static List<Path> defaultDirectories() {
        List<Path> dirs = new ArrayList<>();
        String path = System.getenv("PATH"); // where the user's shell would find pg_dump; not a ferry setting
        if (path != null) {
            for (String entry : path.split(java.io.File.pathSeparator)) if (!entry.isBlank()) dirs.add(Path.of(entry));
        }
        if (Files.isDirectory(DEBIAN_VERSIONS)) {
            try (Stream<Path> versions = Files.list(DEBIAN_VERSIONS)) {
                versions.filter(p -> p.getFileName().toString().matches("\\d+(\\.\\d+)?"))
                        .sorted(Comparator.comparingDouble((Path p) -> Double.parseDouble(p.getFileName().toString())).reversed())
                        .forEach(p -> dirs.add(p.resolve("bin")));
            } catch (IOException e) {
                // An unreadable directory only means fewer candidates; the failure message lists what was found.
            }
        }
        return dirs;
    }

    private static Optional<PgDumpTool> at(Path dir) {
        Path dump = dir.resolve("pg_dump");
        Path restore = dir.resolve("pg_restore");
        if (!Files.isExecutable(dump) || !Files.isExecutable(restore)) return Optional.empty();
        Optional<String> dumpVersion = version(dump);
        Optional<String> restoreVersion = version(restore);
        if (dumpVersion.isEmpty() || restoreVersion.isEmpty()) return Optional.empty();
        int major = major(dumpVersion.get());
        if (major != major(restoreVersion.get())) return Optional.empty(); // a mismatched pair cannot read its own dumps reliably
        return Optional.of(new PgDumpTool(dump, restore, dumpVersion.get(), major));
    }

    private static Optional<String> version(Path tool) {
        try {
            Process p = new ProcessBuilder(tool.toString(), "--version").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            if (p.waitFor() != 0) return Optional.empty();
            Matcher m = VERSION.matcher(out);
            return m.find() ? Optional.of(m.group(0).substring("(PostgreSQL) ".length())) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }

    /** "15.18" -> 15, "9.6.24" -> 9. */
    static int major(String version) {
        return Integer.parseInt(version.split("\\.")[0]);
    }
}
