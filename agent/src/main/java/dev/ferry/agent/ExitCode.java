package dev.ferry.agent;

/**
 * Process exit codes. NOTE: scripts depend on these values; they are documented in docs/operations.md.
 */
public final class ExitCode {
    public static final int OK = 0;
    /** Any failure not covered below; the message says what to do. */
    public static final int FAILED = 1;
    /** Bad input: a malformed URI, an unknown option value, conflicting settings. Nothing was created. */
    public static final int BAD_INPUT = 2;
    /** Preflight found a FAIL; nothing was created on either server. */
    public static final int PREFLIGHT_FAILED = 3;
    /** A server could not be reached or refused the login. */
    public static final int UNREACHABLE = 4;
    /** Interrupted (signal, lost connection); run the same command again to resume. */
    public static final int INTERRUPTED = 5;
    /** `ferry verify` compared both sides and found a difference; its report says where. */
    public static final int DIFFERENT = 6;

    private ExitCode() {}

    /** The code and what it means, as the console's last line after a failure: {@code exit code 3 (preflight failed)}. */
    public static String describe(int code) {
        String meaning = switch (code) {
            case OK -> "done";
            case BAD_INPUT -> "bad input";
            case PREFLIGHT_FAILED -> "preflight failed";
            case UNREACHABLE -> "unreachable";
            case INTERRUPTED -> "interrupted; run the same command again to resume";
            default -> "failed";
        };
        return "exit code " + code + " (" + meaning + ")";
    }
}
