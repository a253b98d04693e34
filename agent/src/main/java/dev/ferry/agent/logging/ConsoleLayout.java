package dev.ferry.agent.logging;

import ch.qos.logback.classic.PatternLayout;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.LayoutBase;
import org.slf4j.Marker;

/**
 * The console's lines. On a terminal, a progress line ({@link LogSetup#PROGRESS}) is redrawn in place (carriage
 * return, no newline, rest of the line erased) and every other line first erases it, so the screen shows the log with
 * one live progress line under it; elsewhere (a container's log, a file, a pipe) progress is a plain line like any other.
 */
final class ConsoleLayout extends LayoutBase<ILoggingEvent> {
    private static final String ERASE_LINE = "\r\u001b[K";

    private final PatternLayout lines;
    private final boolean terminal;

    ConsoleLayout(PatternLayout lines, boolean terminal) {
        this.lines = lines;
        this.terminal = terminal;
    }

    @Override
    public String doLayout(ILoggingEvent event) {
        if (!terminal) return lines.doLayout(event);
        if (isProgress(event)) return ERASE_LINE + event.getFormattedMessage();
        return ERASE_LINE + lines.doLayout(event);
    }

    private static boolean isProgress(ILoggingEvent event) {
        if (event.getMarkerList() == null) return false;
        for (Marker marker : event.getMarkerList()) {
            if (marker.contains(LogSetup.PROGRESS)) return true;
        }
        return false;
    }
}
