package dev.ferry.agent.cli;

import picocli.CommandLine.Option;

import java.util.Optional;

/** {@code --migration NAME}, shared by every command that reads or changes one migration's state on the target. */
public final class MigrationName {
    @Option(names = "--migration", paramLabel = "NAME", defaultValue = "${env:FERRY_MIGRATION}",
            description = "Which migration into the target database this is, when several share it (state in schema ferry_NAME; default: the unnamed one, schema ferry).")
    String name;

    Optional<String> name() {
        return Optional.ofNullable(name).filter(n -> !n.isEmpty());
    }
}
