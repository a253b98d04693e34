package dev.ferry.agent.cli;

import dev.ferry.agent.config.TableFilter;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;

/** The table filter options, shared by `run`, `preflight`, `verify` and `sync-sequences`; docs/compatibility.md "Filters" explains them. */
public final class FilterOptions {
    @Option(names = "--include-schema", paramLabel = "PATTERN", description = "Migrate only the schemas matching this pattern, e.g. 'app_*' (repeatable).")
    List<String> includeSchemas = new ArrayList<>();

    @Option(names = "--exclude-schema", paramLabel = "PATTERN", description = "Leave out the schemas matching this pattern, with their tables, views and functions (repeatable).")
    List<String> excludeSchemas = new ArrayList<>();

    @Option(names = "--include-table", paramLabel = "PATTERN", description = "Migrate only the tables matching this pattern, e.g. 'app.order_*' or 'orders' in every schema (repeatable).")
    List<String> includeTables = new ArrayList<>();

    @Option(names = "--exclude-table", paramLabel = "PATTERN", description = "Leave out the tables matching this pattern (repeatable); exclusion wins over inclusion.")
    List<String> excludeTables = new ArrayList<>();

    @Option(names = "--skip-table-data", paramLabel = "PATTERN", description = "Create the tables matching this pattern on the target, empty: no rows copied or streamed (repeatable).")
    List<String> skipTableData = new ArrayList<>();

    TableFilter toFilter() {
        return TableFilter.parse(includeSchemas, excludeSchemas, includeTables, excludeTables, skipTableData);
    }
}
