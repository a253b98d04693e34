package dev.ferry.agent.cli;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.logging.LogSetup;
import dev.ferry.agent.preflight.Preflight;
import dev.ferry.agent.preflight.PreflightReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

/** `ferry preflight`: checks both servers read-only and prints PASS/WARN/FAIL with fixes. */
@Command(name = "preflight", mixinStandardHelpOptions = true,
        description = {"Check both servers for every known migration hazard and print what to fix; creates nothing.",
                "Exit 0 when nothing FAILs (accepted risks aside), 3 otherwise."},
        footer = {"", "Example:", "  ferry preflight --source postgres://app@old:5432/app --target postgres://app@new:5432/app --json"})
public final class PreflightCommand implements Callable<Integer> {
    @Mixin
    MigrationOptions options = new MigrationOptions();

    @Option(names = "--json", description = "Print the report as one JSON document.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        MigrationConfig config = options.toConfig();
        LogSetup.errorsOnly(System.err);
        PreflightReport report = new Preflight(config).run();
        PrintWriter out = spec.commandLine().getOut();
        out.println(json ? report.renderJson(config.acceptRisks()) : report.renderText(config.acceptRisks()));
        out.flush();
        if (report.blockingFailures(config.acceptRisks()).isEmpty()) return ExitCode.OK;
        // On stderr, like every failure's last line, so stdout stays the report alone (--json parses).
        spec.commandLine().getErr().println(ExitCode.describe(ExitCode.PREFLIGHT_FAILED));
        return ExitCode.PREFLIGHT_FAILED;
    }
}
