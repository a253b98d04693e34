package dev.ferry.agent.cli;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;

import java.time.Duration;

/** Parses durations as people type them: 90s, 10m, 1h, or plain seconds. */
final class Durations {
    private Durations() {}

    static Duration parse(String option, String text) {
        String t = text.trim().toLowerCase();
        try {
            if (t.endsWith("ms")) return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
            if (t.endsWith("s")) return Duration.ofSeconds(Long.parseLong(t.substring(0, t.length() - 1)));
            if (t.endsWith("m")) return Duration.ofMinutes(Long.parseLong(t.substring(0, t.length() - 1)));
            if (t.endsWith("h")) return Duration.ofHours(Long.parseLong(t.substring(0, t.length() - 1)));
            return Duration.ofSeconds(Long.parseLong(t));
        } catch (NumberFormatException e) {
            throw new FerryException(option + " '" + text + "' is not a duration.", "a duration is a whole number with a unit: ms, s, m or h (plain seconds without one).", "write it like 90s, 10m or 1h.", ExitCode.BAD_INPUT, e);
        }
    }
}
