package dev.ferry.agent.preflight;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.config.MigrationConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Inspects both servers read-only and reports every known migration hazard with its fix. Creates nothing on either
 * server: its connections are read-only, and the one replication connection only runs IDENTIFY_SYSTEM.
 */
public final class Preflight {
    private static final Logger log = LoggerFactory.getLogger("ferry.preflight");
    private static final String TARGET_EMPTY_CHECK = "target-empty";
    private static final List<CheckFamily> FAMILIES = List.of(new SourceAccess(), new SourceSettings(), new Versions(),
            new TableFilterMatches(), new TargetChecks(), new TupleIdentifiers(), new DataHazards(), new Collations(), new RowSecurity(), new TimescaleChecks(), new SchemaMapChecks(), new SizeEstimate());

    private final MigrationConfig config;

    public Preflight(MigrationConfig config) {
        this.config = config;
    }

    public PreflightReport run() {
        List<CheckResult> results = new ArrayList<>();
        try (PreflightContext context = new PreflightContext(config)) {
            for (CheckFamily family : FAMILIES) {
                List<CheckResult> rows;
                long started = System.nanoTime();
                try {
                    rows = family.run(context);
                    log.debug("{} checks took {} ms", family.getClass().getSimpleName(), (System.nanoTime() - started) / 1_000_000);
                } catch (SQLException e) {
                    // One family's failure must not hide what the others find: report it and go on.
                    rows = List.of(CheckFamily.fail(family.getClass().getSimpleName().toLowerCase(),
                            "these checks could not run: " + e.getMessage() + " (SQLSTATE " + e.getSQLState() + ")",
                            "a catalog query failed, so preflight cannot vouch for what it checks.",
                            "check that both roles may read the system catalogs, then run `ferry preflight` again."));
                }
                for (CheckResult result : rows) {
                    results.add(result);
                    logRow(result);
                }
            }
        } catch (SQLException e) {
            throw new FerryException("preflight could not finish: " + e.getMessage(), "a catalog query failed (SQLSTATE " + e.getSQLState() + ").",
                    "check that both roles may read the system catalogs; nothing was created on either server.", e);
        }
        return new PreflightReport(results);
    }

    /**
     * Runs every check before a new migration and refuses it, naming each blocking failure with its fix, unless each is
     * passed or accepted (--accept-risk). With {@code targetEmptied}, the tables on the target are the ones an earlier
     * attempt created and --restart-copy emptied, which pre-data recreates: they do not fail target-empty.
     */
    public void require(boolean targetEmptied) {
        MDC.put("stage", "preflight");
        try {
            PreflightReport report = run();
            Set<String> accepted = new HashSet<>(config.acceptRisks());
            if (targetEmptied) accepted.add(TARGET_EMPTY_CHECK);
            List<CheckResult> blocking = report.blockingFailures(accepted);
            if (!blocking.isEmpty()) {
                throw new FerryException("preflight failed: " + blocking.stream().map(CheckResult::check).collect(Collectors.joining(", "))
                        + ". Nothing was created on either server.",
                        blocking.stream().map(r -> r.check() + ": " + r.summary() + (r.why().isBlank() ? "" : " (" + r.why() + ")")).collect(Collectors.joining("\n")),
                        blocking.stream().map(r -> r.check() + ": " + r.fix()).collect(Collectors.joining("\n"))
                                + "\nthen run again (`ferry preflight` shows every check). To go ahead anyway: --accept-risk CHECK.",
                        ExitCode.PREFLIGHT_FAILED, null);
            }
        } finally {
            MDC.remove("stage");
        }
    }

    private void logRow(CheckResult result) {
        String line = PreflightReport.renderRow(result, config.acceptRisks());
        if (result.status() == CheckResult.Status.PASS) log.info("{}", line);
        else log.warn("{}", line);
    }
}
