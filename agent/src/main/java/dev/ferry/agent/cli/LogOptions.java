package dev.ferry.agent.cli;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.logging.LogFiles;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** How `run` keeps its log files: format, size at which each rolls over, archives kept. */
public final class LogOptions {
    @Option(names = "--log-format", paramLabel = "text|json", defaultValue = "${env:FERRY_LOG_FORMAT:-text}",
            description = "Log file format: text (default), or json, one object per line for log shippers (default: $FERRY_LOG_FORMAT).")
    String format;

    @Option(names = "--log-file-size", paramLabel = "SIZE", defaultValue = "100MB",
            description = "Each log file rolls over into a gzip archive at this size, e.g. 50MB, 1GB (default: 100MB).")
    String fileSize;

    @Option(names = "--log-files", paramLabel = "N", defaultValue = "10",
            description = "Archives kept per log file, 1 to 20 (default: 10); the oldest is deleted.")
    int files;

    LogFiles toLogFiles(Path dir) {
        LogFiles.Format chosen = switch (format.toLowerCase()) {
            case "text" -> LogFiles.Format.TEXT;
            case "json" -> LogFiles.Format.JSON;
            default -> throw new FerryException("--log-format '" + format + "' is not one of [text, json].", "ferry writes its log files as plain text or as one JSON object per line.",
                    "pass --log-format text or --log-format json.", ExitCode.BAD_INPUT, null);
        };
        long bytes = Sizes.parse("--log-file-size", fileSize, "100MB");
        try {
            return new LogFiles(dir, chosen, bytes, files);
        } catch (IllegalArgumentException e) {
            throw new FerryException("--log-file-size " + fileSize + " --log-files " + files + " cannot be used.", e.getMessage() + ".",
                    "give a size such as 100MB (at least 1kB) and a count from 1 to " + LogFiles.MAX_KEPT_FILES + ".", ExitCode.BAD_INPUT, e);
        }
    }
}
