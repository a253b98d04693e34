package dev.ferry.agent.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.PatternLayout;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.core.rolling.FixedWindowRollingPolicy;
import ch.qos.logback.core.rolling.RollingFileAppender;
import ch.qos.logback.core.rolling.SizeBasedTriggeringPolicy;
import ch.qos.logback.core.util.FileSize;
import ch.qos.logback.core.encoder.LayoutWrappingEncoder;
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
 * {@code cutover.log}) holding that stage's logger ({@code ferry.<stage>}) so each reads on its own at 3 a.m. Every
 * file rolls over by size into a bounded number of gzip archives ({@link LogFiles}).
 */
public final class LogSetup {
    /** NOTE: file names are documented in docs/operations.md; the Docker image mounts the directory. */
    public static final List<String> STAGES = List.of("preflight", "schema", "snapshot", "stream", "cutover");

    /** Marks a progress line: redrawn in place on a terminal, a plain line everywhere else. */
    public static final Marker PROGRESS = MarkerFactory.getMarker("PROGRESS");

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
        root.addAppender(console(context, console, threshold, false));
        quietLibraries(context);
    }

    /** Console plus ferry.log and the per-stage files in {@code logDir}, text, default rotation. */
    public static void toDirectory(Path logDir, PrintStream console, boolean verbose) {
        toDirectory(LogFiles.in(logDir), console, verbose, false);
    }

    /**
     * Console plus ferry.log and the per-stage files, rotated as {@code files} says; the directory is created if missing.
     * With {@code terminal}, progress lines are redrawn in place on the console.
     */
    public static void toDirectory(LogFiles files, PrintStream console, boolean verbose, boolean terminal) {
        try {
            Files.createDirectories(files.dir());
        } catch (IOException e) {
            throw unwritable(files.dir(), e.toString(), e);
        }
        // Checked here: Logback would only report a file it cannot open on its status console, and ferry run blind.
        if (!Files.isWritable(files.dir())) throw unwritable(files.dir(), "the directory exists but this user may not write to it.", null);
        LoggerContext context = reset();
        Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
        root.addAppender(console(context, console, verbose ? Level.DEBUG : Level.INFO, terminal));
        root.addAppender(file(context, files, "ferry", null));
        for (String stage : STAGES) {
            root.addAppender(file(context, files, stage, loggersOf(stage)));
        }
        quietLibraries(context);
    }

    /** The loggers a stage's file holds: the apply stage writes into stream.log, the one file users read for streaming. */
    private static List<String> loggersOf(String stage) {
        return stage.equals("stream") ? List.of("ferry.stream", "ferry.apply") : List.of("ferry." + stage);
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
        root.addAppender(console(context, System.err, threshold, false));
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

    private static ConsoleAppender<ILoggingEvent> console(LoggerContext context, PrintStream stream, Level threshold, boolean terminal) {
        ConsoleAppender<ILoggingEvent> appender = new ConsoleAppender<>();
        appender.setContext(context);
        appender.setName("console");
        PatternLayout lines = new PatternLayout();
        lines.setContext(context);
        lines.setPattern(CONSOLE_PATTERN);
        lines.start();
        ConsoleLayout layout = new ConsoleLayout(lines, terminal);
        layout.setContext(context);
        layout.start();
        LayoutWrappingEncoder<ILoggingEvent> encoder = new LayoutWrappingEncoder<>();
        encoder.setContext(context);
        encoder.setLayout(layout);
        encoder.start();
        appender.setEncoder(encoder);
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

    private static RollingFileAppender<ILoggingEvent> file(LoggerContext context, LogFiles files, String name, List<String> loggerPrefixes) {
        RollingFileAppender<ILoggingEvent> appender = new RollingFileAppender<>();
        appender.setContext(context);
        appender.setName(name + ".log");
        appender.setFile(files.dir().resolve(name + ".log").toString());
        appender.setAppend(true);
        appender.setEncoder(files.format() == LogFiles.Format.JSON ? jsonEncoder(context) : encoder(context, FILE_PATTERN));
        FixedWindowRollingPolicy rolling = new FixedWindowRollingPolicy();
        rolling.setContext(context);
        rolling.setParent(appender);
        rolling.setFileNamePattern(files.dir().resolve(name + ".%i.log.gz").toString());
        rolling.setMinIndex(1);
        rolling.setMaxIndex(files.keptFiles());
        rolling.start();
        SizeBasedTriggeringPolicy<ILoggingEvent> trigger = new SizeBasedTriggeringPolicy<>();
        trigger.setContext(context);
        trigger.setMaxFileSize(new FileSize(files.maxFileBytes()));
        // Logback looks at the file's size at most once a minute by default, long enough for a burst of DEBUG lines to
        // overshoot the limit many times over; a stat per line costs nothing next to the line's own write.
        trigger.setCheckIncrement(ch.qos.logback.core.util.Duration.buildByMilliseconds(0));
        trigger.start();
        appender.setRollingPolicy(rolling);
        appender.setTriggeringPolicy(trigger);
        if (loggerPrefixes != null) {
            appender.addFilter(new Filter<>() {
                @Override
                public FilterReply decide(ILoggingEvent event) {
                    String logger = event.getLoggerName();
                    for (String prefix : loggerPrefixes) {
                        if (logger.equals(prefix) || logger.startsWith(prefix + ".")) return FilterReply.NEUTRAL;
                    }
                    return FilterReply.DENY;
                }
            });
        }
        appender.start();
        return appender;
    }

    /** One JSON object per line: time, level, thread, logger (the stage), MDC (table, LSN), message, stack trace. */
    private static JsonEncoder jsonEncoder(LoggerContext context) {
        JsonEncoder encoder = new JsonEncoder();
        encoder.setContext(context);
        encoder.setWithContext(false);
        encoder.setWithSequenceNumber(false);
        encoder.setWithNanoseconds(false);
        encoder.setWithArguments(false);
        encoder.setWithMessage(false);
        encoder.setWithFormattedMessage(true);
        encoder.start();
        return encoder;
    }

    private static PatternLayoutEncoder encoder(LoggerContext context, String pattern) {
        PatternLayoutEncoder encoder = new PatternLayoutEncoder();
        encoder.setContext(context);
        encoder.setPattern(pattern);
        encoder.start();
        return encoder;
    }
}
