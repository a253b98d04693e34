package dev.ferry.agent.cli;

import dev.ferry.agent.config.ConnectionSpec;
import picocli.CommandLine.Option;

/** --source and --target, defaulting to FERRY_SOURCE and FERRY_TARGET. */
public final class ConnectionOptions {
    @Option(names = "--source", paramLabel = "URI", defaultValue = "${env:FERRY_SOURCE}",
            description = "Source database: postgres://USER:PASSWORD@HOST:PORT/DB (default: $FERRY_SOURCE).")
    String source;

    @Option(names = "--target", paramLabel = "URI", defaultValue = "${env:FERRY_TARGET}",
            description = "Target database, same form (default: $FERRY_TARGET).")
    String target;

    ConnectionSpec source() { return ConnectionSpec.parse("source", source); }

    ConnectionSpec target() { return ConnectionSpec.parse("target", target); }
}
