package dev.ferry.agent.preflight;

import java.util.List;
import java.util.Set;

/** All check results of one preflight run, in the order they ran. */
public record PreflightReport(List<CheckResult> results) {
    public PreflightReport {
        results = List.copyOf(results);
    }

    /** FAIL rows the user did not accept with --accept-risk: any of them stops `ferry run` before anything is created. */
    public List<CheckResult> blockingFailures(Set<String> acceptedRisks) {
        return results.stream()
                .filter(r -> r.status() == CheckResult.Status.FAIL && !acceptedRisks.contains(r.check()))
                .toList();
    }
}
