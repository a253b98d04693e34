package dev.ferry.agent.preflight;

import dev.ferry.agent.text.Json;

import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/** All check results of one preflight run, in the order they ran, and their text and JSON renderings. */
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

    /** NOTE: one line per check, `STATUS check: summary`, then indented why/fix; people grep it. */
    public String renderText(Set<String> acceptedRisks) {
        StringBuilder text = new StringBuilder();
        for (CheckResult result : results) text.append(renderRow(result, acceptedRisks)).append('\n');
        long fails = blockingFailures(acceptedRisks).size();
        long warns = results.stream().filter(r -> r.status() == CheckResult.Status.WARN).count();
        text.append(fails == 0 ? "preflight passed" : "preflight FAILED: " + fails + " checks must be fixed (or accepted with --accept-risk CHECK)")
                .append(", ").append(warns).append(" warnings, ").append(results.size()).append(" checks; nothing was created on either server.");
        return text.toString();
    }

    static String renderRow(CheckResult result, Set<String> acceptedRisks) {
        String status = result.status() == CheckResult.Status.FAIL && acceptedRisks.contains(result.check()) ? "FAIL (accepted)" : result.status().name();
        StringBuilder row = new StringBuilder(String.format("%-4s %s: %s", status, result.check(), result.summary()));
        if (!result.why().isBlank()) row.append("\n       why: ").append(result.why().replace("\n", "\n            "));
        if (!result.fix().isBlank()) row.append("\n       fix: ").append(result.fix().replace("\n", "\n            "));
        return row.toString();
    }

    /** NOTE: the JSON document automation reads: {"ok": bool, "checks": [{check, status, summary, why, fix}]}. */
    public String renderJson(Set<String> acceptedRisks) {
        return "{\"ok\":" + blockingFailures(acceptedRisks).isEmpty() + ",\"checks\":[" + results.stream()
                .map(r -> "{\"check\":" + Json.string(r.check()) + ",\"status\":" + Json.string(r.status().name()) + ",\"accepted\":"
                        + (r.status() == CheckResult.Status.FAIL && acceptedRisks.contains(r.check())) + ",\"summary\":" + Json.string(r.summary())
                        + ",\"why\":" + Json.string(r.why()) + ",\"fix\":" + Json.string(r.fix()) + "}")
                .collect(Collectors.joining(",")) + "]}";
    }
}
