package dev.ferry.agent.cli;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.preflight.Preflight;
import dev.ferry.agent.preflight.PreflightReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

/** `ferry preflight`: checks both servers read-only and prints PASS/WARN/FAIL with fixes. (Stub for the spine.) */
@Command(name = "preflight", mixinStandardHelpOptions = true,
        description = "Check both servers for every known migration hazard; creates nothing.",
        footer = {"", "Example:", "  ferry preflight --source postgres://app@old:5432/app --target postgres://app@new:5432/app --json"})
public final class PreflightCommand implements Callable<Integer> {
    @Mixin
    MigrationOptions options = new MigrationOptions();

    @Option(names = "--json", description = "Print the report as JSON.")
    boolean json;

    @Override
    public Integer call() {
        MigrationConfig config = options.toConfig();
        PreflightReport report = new Preflight(config).run();
        return report.blockingFailures(config.acceptRisks()).isEmpty() ? ExitCode.OK : ExitCode.PREFLIGHT_FAILED;
    }
}
