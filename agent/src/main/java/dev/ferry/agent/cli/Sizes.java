package dev.ferry.agent.cli;

import ch.qos.logback.core.util.FileSize;
import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;

/** Parses sizes as people type them: 64kB, 500MB, 10GB (Logback's rules, which the log file options already follow). */
final class Sizes {
    private Sizes() {}

    /** @param example how the fix shows a good value of {@code option}, e.g. "100MB" */
    static long parse(String option, String text, String example) {
        try {
            return FileSize.valueOf(text).getSize();
        } catch (IllegalArgumentException e) {
            throw new FerryException(option + " '" + text + "' is not a size.", "a size is a number with a unit: kB, MB or GB.",
                    "write it like " + example + ".", ExitCode.BAD_INPUT, e);
        }
    }
}
