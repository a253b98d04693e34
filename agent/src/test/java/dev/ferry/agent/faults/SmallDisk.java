package dev.ferry.agent.faults;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A filesystem of a fixed size (tmpfs) for a server's data directory, and a balloon file that fills it to the last
 * byte on demand and gives the space back when deleted: a disk that fills up under a server, and space that returns
 * once an operator frees some. Mounting needs root (or CAP_SYS_ADMIN); without it the test is skipped, saying why.
 */
public final class SmallDisk implements AutoCloseable {
    private final Path mountPoint;
    private final Path balloon;

    private SmallDisk(Path mountPoint) {
        this.mountPoint = mountPoint;
        this.balloon = mountPoint.resolve("balloon");
    }

    /** Mounts a tmpfs of {@code megabytes} on a new directory under {@code parent}; skips the calling test if it cannot. */
    public static SmallDisk mount(Path parent, int megabytes) {
        try {
            Path dir = Files.createTempDirectory(Files.createDirectories(parent), "small-disk-");
            String output = run("mount", "-t", "tmpfs", "-o", "size=" + megabytes + "m,mode=0755", "tmpfs", dir.toString());
            if (output != null) {
                Files.deleteIfExists(dir);
                Assumptions.abort("cannot mount a " + megabytes + " MB tmpfs for the disk-full tests (needs root or CAP_SYS_ADMIN): " + output);
            }
            return new SmallDisk(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public Path path() { return mountPoint; }

    /** Writes the balloon until the filesystem has only {@code leaveBytes} left (about: to the MB); returns its size. */
    public long fill(long leaveBytes) {
        long written = 0;
        byte[] chunk = new byte[1 << 20];
        try (OutputStream out = Files.newOutputStream(balloon)) {
            while (true) {
                out.write(chunk);
                written += chunk.length;
            }
        } catch (IOException full) {
            // ENOSPC: the filesystem is full, which is the point; the balloon gives back what is to be left
        }
        if (leaveBytes == 0) return written;
        try (FileChannel file = FileChannel.open(balloon, StandardOpenOption.WRITE)) {
            file.truncate(Math.max(0, file.size() - leaveBytes));
            return file.size();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Deletes the balloon: the space is there again. */
    public void free() {
        try {
            Files.deleteIfExists(balloon);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Unmounts (lazily, should a process still hold a file) and removes the directory. */
    @Override
    public void close() {
        free();
        String output = run("umount", "-l", mountPoint.toString());
        if (output != null) throw new IllegalStateException("could not unmount " + mountPoint + ": " + output);
        try {
            Files.deleteIfExists(mountPoint);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Runs a command; null when it succeeded, else what it printed. */
    private static String run(String... command) {
        try {
            Process process = new ProcessBuilder(List.of(command)).redirectErrorStream(true).start();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                return String.join(" ", command) + " did not finish within 30 s";
            }
            return process.exitValue() == 0 ? null : String.join(" ", command) + " exited with " + process.exitValue() + ": " + output;
        } catch (IOException e) {
            return e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }
}
