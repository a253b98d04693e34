package dev.ferry.agent.logging;

import java.nio.file.Path;

/**
 * Where the log files go and how they are kept: each file rolls over at {@code maxFileBytes} into at most
 * {@code keptFiles} gzip archives ({@code stream.1.log.gz} the newest), so a migration that streams for weeks keeps
 * its log volume bounded. JSON writes one object per line for log shippers.
 */
public record LogFiles(Path dir, Format format, long maxFileBytes, int keptFiles) {
    /** Logback's fixed window holds at most this many archives. */
    public static final int MAX_KEPT_FILES = 20;
    public static final long DEFAULT_MAX_FILE_BYTES = 100L << 20;
    public static final int DEFAULT_KEPT_FILES = 10;

    public enum Format { TEXT, JSON }

    public LogFiles {
        if (maxFileBytes < 1024) throw new IllegalArgumentException("a log file must be allowed at least 1 kB, got " + maxFileBytes + " bytes");
        if (keptFiles < 1 || keptFiles > MAX_KEPT_FILES) {
            throw new IllegalArgumentException("between 1 and " + MAX_KEPT_FILES + " archives per log file can be kept, got " + keptFiles);
        }
    }

    /** Text files of the default size and count. */
    public static LogFiles in(Path dir) {
        return new LogFiles(dir, Format.TEXT, DEFAULT_MAX_FILE_BYTES, DEFAULT_KEPT_FILES);
    }
}
