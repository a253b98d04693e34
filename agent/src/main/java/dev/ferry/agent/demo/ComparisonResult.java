package dev.ferry.agent.demo;

import java.util.List;

/** The outcome of comparing two databases: what was compared and every difference found, described for a person. */
public record ComparisonResult(int tablesCompared, long rowsCompared, List<String> differences) {
    public ComparisonResult {
        differences = List.copyOf(differences);
    }

    public boolean identical() {
        return differences.isEmpty();
    }
}
