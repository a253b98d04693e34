package dev.ferry.agent.preflight;

import dev.ferry.agent.FerryException;
import dev.ferry.agent.config.MigrationConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * Inspects both servers read-only and reports every known migration hazard with its fix. Creates nothing on either
 * server: its connections are read-only, and the one replication connection only runs IDENTIFY_SYSTEM.
 */
public final class Preflight {
    private static final Logger log = LoggerFactory.getLogger("ferry.preflight");
    private static final List<CheckFamily> FAMILIES = List.of(new SourceAccess(), new SourceSettings(), new Versions(),
            new TargetChecks(), new TupleIdentifiers(), new DataHazards(), new Collations(), new RowSecurity(), new TimescaleChecks(), new SchemaMapChecks(), new SizeEstimate());

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

    private void logRow(CheckResult result) {
        String line = PreflightReport.renderRow(result, config.acceptRisks());
        if (result.status() == CheckResult.Status.PASS) log.info("{}", line);
        else log.warn("{}", line);
    }
}
