package dev.ferry.agent.cli;

import dev.ferry.agent.config.SchemaMap;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;

/** {@code --schema-map SRC=DST}, for `run` and `preflight` and for the commands that look at the target through the same map. */
public final class SchemaMapOption {
    @Option(names = "--schema-map", paramLabel = "SRC=DST",
            description = "Put the source schema SRC's objects into schema DST on the target (repeatable), e.g. --schema-map public=app1.")
    List<String> entries = new ArrayList<>();

    SchemaMap map() {
        return SchemaMap.parse(entries);
    }
}
