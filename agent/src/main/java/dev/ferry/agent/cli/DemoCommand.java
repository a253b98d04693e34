package dev.ferry.agent.cli;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.demo.Demo;
import dev.ferry.agent.logging.LogSetup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** `ferry demo`: a complete live migration between two embedded servers, no installation needed. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Run a full live migration between two embedded PostgreSQL servers while a writer changes the source,",
                "then cut over and compare every row. Needs nothing installed but Java."},
        footer = {"", "Example:", "  ferry demo --rows 5000 --log-dir ./logs"})
public final class DemoCommand implements Callable<Integer> {
    @Option(names = "--log-dir", paramLabel = "DIR", defaultValue = "${env:FERRY_LOG_DIR:-logs}", description = "Where the logs go (default: ./logs).")
    Path logDir;

    @Option(names = "--rows", paramLabel = "N", defaultValue = "2000", description = "Rows per main sample table (default: 2000).")
    int rows;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        Path logs = logDir.toAbsolutePath().normalize();
        LogSetup.toDirectory(logs, System.err, false);
        boolean identical = new Demo(logs, rows, spec.commandLine().getOut()).run();
        return identical ? ExitCode.OK : ExitCode.FAILED;
    }
}
