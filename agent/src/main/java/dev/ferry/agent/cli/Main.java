package dev.ferry.agent.cli;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.db.LoginWarmup;
import dev.ferry.agent.logging.LogSetup;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;

/** The `ferry` command: dispatches to one class per subcommand and maps failures to documented exit codes. */
@Command(name = "ferry", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Live migration of a PostgreSQL (or TimescaleDB) database to another server with minutes of downtime.",
        subcommands = {RunCommand.class, PreflightCommand.class, CutoverCommand.class, StatusCommand.class, VerifyCommand.class, CleanCommand.class, SyncSequencesCommand.class, DemoCommand.class},
        footer = {"", "Examples:",
                "  ferry preflight --source postgres://app@old:5432/app --target postgres://app@new:5432/app",
                "  ferry run       --source postgres://app@old:5432/app --target postgres://app@new:5432/app --log-dir /var/log/ferry",
                "  ferry cutover   --source postgres://app@old:5432/app --target postgres://app@new:5432/app",
                "  ferry verify    --source postgres://app@old:5432/app --target postgres://app@new:5432/app",
                "  ferry clean     --source postgres://app@old:5432/app --target postgres://app@new:5432/app",
                "  ferry demo",
                "Exit codes: 0 done, 1 failed, 2 bad input, 3 preflight failed, 4 unreachable, 5 interrupted (run again to resume), 6 verify found differences."})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        LoginWarmup.startInBackground();
        GracefulStop stop = GracefulStop.install();
        int code = run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true));
        stop.finished(code);
        System.exit(code);
    }

    /** Runs one command line with the given writers; tests call this in-process. */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cli = new CommandLine(new Main());
        cli.setOut(out);
        cli.setErr(err);
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> report(e, err));
        cli.setParameterExceptionHandler((e, args1) -> {
            err.println("ferry: " + e.getMessage());
            e.getCommandLine().usage(err);
            err.println(ExitCode.describe(ExitCode.BAD_INPUT));
            return ExitCode.BAD_INPUT;
        });
        return cli.execute(args);
    }

    /**
     * Prints a failure on the console and returns its exit code. An expected failure ({@link FerryException}: bad
     * input, preflight, an unreachable server, an interruption) is its what/why/fix and exit code, its stack trace
     * only in ferry.log; anything else is a bug in ferry and shows its stack trace, so it can be reported.
     */
    static int report(Exception e, PrintWriter err) {
        Logger log = LoggerFactory.getLogger("ferry");
        if (e instanceof FerryException failure) {
            err.println("ERROR " + failure.describe());
            err.println(ExitCode.describe(failure.exitCode()));
            log.error(LogSetup.FILES_ONLY, failure.describe(), failure);
            return failure.exitCode();
        }
        err.println("ERROR ferry stopped on an unexpected error: " + e);
        err.println("  this is a bug in ferry: please report it on ferry's issue tracker with the stack trace below and the log");
        err.println("        directory (passwords are masked in it). Running the same command again resumes the migration.");
        e.printStackTrace(err);
        err.println(ExitCode.describe(ExitCode.FAILED));
        log.error(LogSetup.FILES_ONLY, "unexpected error (a bug in ferry)", e);
        return ExitCode.FAILED;
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String version = Main.class.getPackage().getImplementationVersion();
            return new String[] {"ferry " + (version == null ? "development build" : version)};
        }
    }
}
