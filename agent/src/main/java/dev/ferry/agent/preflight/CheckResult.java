package dev.ferry.agent.preflight;

/**
 * One row of the preflight report.
 *
 * @param check   stable identifier of the check, as accepted by --accept-risk (e.g. "wal-level")
 * @param status  PASS, WARN or FAIL
 * @param summary what was found, naming every table, setting or object involved
 * @param why     why it matters for the migration (empty for PASS)
 * @param fix     the exact fix: SQL or a setting (empty for PASS)
 */
public record CheckResult(String check, Status status, String summary, String why, String fix) {
    public enum Status { PASS, WARN, FAIL }
}
