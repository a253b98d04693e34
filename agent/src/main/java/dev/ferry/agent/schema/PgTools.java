package dev.ferry.agent.schema;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Finds pg_dump and pg_restore of a major version that can dump the source: on PATH, then in
 * /usr/lib/postgresql/N/bin (Debian's side-by-side installs), newest first.
 */
record PgTools(Path pgDump, Path pgRestore, int major) {
    private static final Pattern VERSION = Pattern.compile("\\(PostgreSQL\\) (\\d+)");

    static PgTools find(int sourceMajor) {
        List<PgTools> found = candidates();
        Optional<PgTools> usable = found.stream().filter(t -> t.major >= sourceMajor).max(Comparator.comparingInt(PgTools::major));
        if (usable.isPresent()) return usable.get();
        String seen = found.isEmpty() ? "no pg_dump was found on PATH or in /usr/lib/postgresql/*/bin"
                : "the newest pg_dump found is version " + found.stream().mapToInt(PgTools::major).max().getAsInt()
                + " (" + found.stream().max(Comparator.comparingInt(PgTools::major)).get().pgDump() + ")";
        throw new FerryException("ferry needs pg_dump and pg_restore " + sourceMajor + " or newer to copy the schema: " + seen + ".",
                "pg_dump cannot dump a server newer than itself, and the source runs PostgreSQL " + sourceMajor + ".",
                "install the client tools, e.g. apt-get install postgresql-client-" + sourceMajor + " (or put them on PATH); "
                        + "or create the schema on the target yourself and pass --schema existing.",
                ExitCode.BAD_INPUT, null);
    }

    private static List<PgTools> candidates() {
        List<Path> directories = new ArrayList<>();
        String path = System.getenv("PATH");
        if (path != null) for (String dir : path.split(":")) if (!dir.isEmpty()) directories.add(Path.of(dir));
        try (Stream<Path> versions = Files.list(Path.of("/usr/lib/postgresql"))) {
            versions.map(v -> v.resolve("bin")).forEach(directories::add);
        } catch (IOException notDebian) {
            // no side-by-side installs here
        }
        List<PgTools> tools = new ArrayList<>();
        for (Path dir : directories) {
            Path dump = dir.resolve("pg_dump");
            Path restore = dir.resolve("pg_restore");
            if (!Files.isExecutable(dump) || !Files.isExecutable(restore)) continue;
            version(dump).ifPresent(major -> tools.add(new PgTools(dump, restore, major)));
        }
        return tools;
    }

    private static Optional<Integer> version(Path pgDump) {
        try {
            Process process = new ProcessBuilder(pgDump.toString(), "--version").redirectErrorStream(true).start();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly();
            Matcher m = VERSION.matcher(output);
            return m.find() ? Optional.of(Integer.parseInt(m.group(1))) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }
}
