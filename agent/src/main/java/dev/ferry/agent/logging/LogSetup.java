package dev.ferry.agent.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.FileAppender;
import ch.qos.logback.core.filter.Filter;
import ch.qos.logback.core.spi.FilterReply;
import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import org.slf4j.LoggerFactory;
import org.slf4j.Marker;
import org.slf4j.MarkerFactory;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Configures Logback in code once the log directory is known: a concise console, {@code ferry.log} with everything,
 * and one file per stage ({@code preflight.log}, {@code schema.log}, {@code snapshot.log}, {@code stream.log},
 * {@code cutover.log}) holding that stage's logger ({@code ferry.<stage>}) so each reads on its own at 3 a.m.
 */
public final class LogSetup {
    /** NOTE: file names are documented in docs/operations.md; the Docker image mounts the directory. */
    public static final List<String> STAGES = List.of("preflight", "schema", "snapshot", "stream", "cutover");

    private static final String FILE_PATTERN = "%d{yyyy-MM-dd HH:mm:ss.SSS'Z',UTC} %-5level [%thread] %logger{0}%X{table:- }%X{lsn:- } %msg%n";
    /** No stack traces on the console (%nopex): they go to the files; the CLI prints one itself only for a bug. */
    private static final String CONSOLE_PATTERN = "%d{HH:mm:ss} %-5level %logger{0}: %msg%n%nopex";

    /** Marks a line for the files only: the CLI has printed it on the console in its own form already. */
    public static final Marker FILES_ONLY = MarkerFactory.getMarker("FILES_ONLY");

    private LogSetup() {}

    /** Console only (commands that do not run a migration). */
    public static void consoleOnly(PrintStream console, boolean verbose) {
        consoleFrom(console, verbose ? Level.DEBUG : Level.INFO);
    }

    /** Console showing only errors: for commands whose output is a report of their own. */
    public static void errorsOnly(PrintStream console) {
        consoleFrom(console, Level.ERROR);
    }

    private static void consoleFrom(PrintStream console, Level threshold) {
        LoggerContext context = reset();
        Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
        root.addAppender(console(context, console, threshold));
        quietLibraries(context);
    }

    /** Console plus ferry.log and the per-stage files in {@code logDir}, which is created if missing. */
    public static void toDirectory(Path logDir, PrintStream console, boolean verbose) {
        try {
            Files.createDirectories(logDir);
        } catch (IOException e) {
            throw unwritable(logDir, e.toString(), e);
        }
        // Checked here: Logback would only report a file it cannot open on its status console, and ferry run blind.
        if (!Files.isWritable(logDir)) throw unwritable(logDir, "the directory exists but this user may not write to it.", null);
        LoggerContext context = reset();
        Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
        root.addAppender(console(context, console, verbose ? Level.DEBUG : Level.INFO));
        root.addAppender(file(context, logDir.resolve("ferry.log"), null));
        for (String stage : STAGES) {
            root.addAppender(file(context, logDir.resolve(stage + ".log"), "ferry." + stage));
        }
        quietLibraries(context);
    }

    private static FerryException unwritable(Path logDir, String why, Exception cause) {
        return new FerryException("cannot write the logs to " + logDir + ".", why,
                "pass --log-dir with a directory this user may write to. In the container ferry runs as uid 10001: "
                        + "`chown 10001 DIR` on the host directory mounted at /logs.", ExitCode.BAD_INPUT, cause);
    }

    /** Until one of the above runs: warnings and errors on stderr ({@link StartupLogConfigurator}). */
    static void consoleAtStartup(LoggerContext context, Level threshold) {
        Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
        root.setLevel(threshold);
        root.addAppender(console(context, System.err, threshold));
    }

    private static LoggerContext reset() {
        LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
        context.reset();
        Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
        root.setLevel(Level.INFO);
        context.getLogger("ferry").setLevel(Level.DEBUG);
        return context;
    }

    private static void quietLibraries(LoggerContext context) {
        context.getLogger("com.zaxxer.hikari").setLevel(Level.WARN);
        context.getLogger("org.postgresql").setLevel(Level.WARN);
        context.getLogger("io.zonky").setLevel(Level.WARN);
    }

    private static ConsoleAppender<ILoggingEvent> console(LoggerContext context, PrintStream stream, Level threshold) {
        ConsoleAppender<ILoggingEvent> appender = new ConsoleAppender<>();
        appender.setContext(context);
        appender.setName("console");
        appender.setEncoder(encoder(context, CONSOLE_PATTERN));
        // Name the stream rather than hand it over: the appender closes a stream given to it when it starts.
        appender.setTarget(stream == System.err ? "System.err" : "System.out");
        appender.addFilter(new Filter<>() {
            @Override
            public FilterReply decide(ILoggingEvent event) {
                if (event.getMarkerList() != null && event.getMarkerList().contains(FILES_ONLY)) return FilterReply.DENY;
                return event.getLevel().isGreaterOrEqual(threshold) ? FilterReply.NEUTRAL : FilterReply.DENY;
            }
        });
        appender.start();
        return appender;
    }

    private static FileAppender<ILoggingEvent> file(LoggerContext context, Path path, String loggerPrefix) {
        FileAppender<ILoggingEvent> appender = new FileAppender<>();
        appender.setContext(context);
        appender.setName(path.getFileName().toString());
        appender.setFile(path.toString());
        appender.setAppend(true);
        appender.setEncoder(encoder(context, FILE_PATTERN));
        if (loggerPrefix != null) {
            appender.addFilter(new Filter<>() {
                @Override
                public FilterReply decide(ILoggingEvent event) {
                    String name = event.getLoggerName();
                    return name.equals(loggerPrefix) || name.startsWith(loggerPrefix + ".") ? FilterReply.NEUTRAL : FilterReply.DENY;
                }
            });
        }
        appender.start();
        return appender;
    }

    private static PatternLayoutEncoder encoder(LoggerContext context, String pattern) {
        PatternLayoutEncoder encoder = new PatternLayoutEncoder();
        encoder.setContext(context);
        encoder.setPattern(pattern);
        encoder.start();
        return encoder;
    }
}
