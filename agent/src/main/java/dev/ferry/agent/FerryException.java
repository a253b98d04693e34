package dev.ferry.agent;

/**
 * The one failure type ferry reports to a person: what failed, why, and what to do about it.
 * The CLI prints the three parts and maps {@link #exitCode()} to the process exit status; the stack trace goes
 * only to the log file. Messages must never contain a password: build them from masked values only.
 */
public class FerryException extends RuntimeException {
    private final String what;
    private final String why;
    private final String fix;
    private final int exitCode;

    public FerryException(String what, String why, String fix) {
        this(what, why, fix, ExitCode.FAILED, null);
    }

    public FerryException(String what, String why, String fix, Throwable cause) {
        this(what, why, fix, ExitCode.FAILED, cause);
    }

    public FerryException(String what, String why, String fix, int exitCode, Throwable cause) {
        super(what + " " + why, cause);
        this.what = what;
        this.why = why;
        this.fix = fix;
        this.exitCode = exitCode;
    }

    /**
     * Work cut short because ferry was asked to stop (SIGTERM, Ctrl-C): exit code {@link ExitCode#INTERRUPTED}, with the
     * same why wherever it happens, so a person and a script see one kind of failure.
     *
     * @param what what was cut short ("the copy was interrupted.")
     * @param fix  how to resume from there
     */
    public static FerryException interrupted(String what, String fix, Throwable cause) {
        return new FerryException(what, "ferry is shutting down.", fix, ExitCode.INTERRUPTED, cause);
    }

    public String what() { return what; }

    public String why() { return why; }

    public String fix() { return fix; }

    public int exitCode() { return exitCode; }

    /** The three-part message as printed on the console and in the logs. */
    public String describe() {
        StringBuilder text = new StringBuilder(what);
        if (why != null && !why.isBlank()) text.append("\n  why:  ").append(why.replace("\n", "\n        "));
        if (fix != null && !fix.isBlank()) text.append("\n  fix:  ").append(fix.replace("\n", "\n        "));
        return text.toString();
    }
}
