package dev.ferry.agent.preflight;

import java.sql.SQLException;
import java.util.List;

/** One family of related checks (source settings, tuple identifiers, ...); each returns one row per check it runs. */
interface CheckFamily {
    List<CheckResult> run(PreflightContext context) throws SQLException;

    static CheckResult pass(String check, String summary) {
        return new CheckResult(check, CheckResult.Status.PASS, summary, "", "");
    }

    static CheckResult warn(String check, String summary, String why, String fix) {
        return new CheckResult(check, CheckResult.Status.WARN, summary, why, fix);
    }

    static CheckResult fail(String check, String summary, String why, String fix) {
        return new CheckResult(check, CheckResult.Status.FAIL, summary, why, fix);
    }
}
