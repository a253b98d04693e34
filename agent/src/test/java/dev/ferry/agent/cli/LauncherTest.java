package dev.ferry.agent.cli;

import dev.ferry.testing.Deadline;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The `ferry` launcher prepares the class-data sharing archive in a process of its own: a start killed while it is
 * being made (a crash loop right after a build) still leaves it for the next start, instead of paying for it each time.
 */
@Timeout(120)
class LauncherTest {
    private static final Path LAUNCHER = Path.of("..", "ferry").toAbsolutePath().normalize();
    private static final Path CLASS_LIST = Path.of("src", "main", "cds", "ferry.classlist").toAbsolutePath();

    @Test
    void aStartKilledWhileTheArchiveIsMadeStillLeavesTheArchive() throws Exception {
        Path home = Files.createTempDirectory(Files.createDirectories(Path.of(System.getProperty("ferry.test.tmp", "target/test-tmp"))), "launcher");
        Files.copy(LAUNCHER, home.resolve("ferry"));
        Path target = Files.createDirectories(home.resolve("agent/target"));
        Files.createDirectories(home.resolve("agent/src/main/cds"));
        Files.copy(CLASS_LIST, home.resolve("agent/src/main/cds/ferry.classlist"));
        // A jar of the build's shape; what it runs does not matter here, only the archive made beside it.
        Manifest manifest = new Manifest();
        manifest.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        try (OutputStream out = Files.newOutputStream(target.resolve("ferry.jar")); JarOutputStream jar = new JarOutputStream(out, manifest)) {
            jar.flush();
        }

        Process start = new ProcessBuilder("bash", home.resolve("ferry").toString(), "--version").redirectErrorStream(true)
                .redirectOutput(home.resolve("console.txt").toFile()).start();
        Deadline.await("the launcher to begin the archive", Duration.ofSeconds(30), () -> names(target).stream().anyMatch(n -> n.endsWith(".jsa.making")));
        start.destroyForcibly();
        start.waitFor();

        Deadline.await("the archive to be made although the start was killed", Duration.ofSeconds(60),
                () -> names(target).stream().anyMatch(n -> n.matches("ferry-\\d+\\.jsa")) && names(target).stream().noneMatch(n -> n.endsWith(".making")));
        assertTrue(Files.readString(home.resolve("console.txt")).contains("preparing the class-data sharing archive in the background"));
    }

    private static java.util.List<String> names(Path dir) {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
