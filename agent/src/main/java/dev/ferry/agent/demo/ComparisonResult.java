package dev.ferry.agent.demo;

import java.util.List;

/**
 * What {@link DatabaseComparison} found: how much it compared, and one line per difference (table or sequence
 * named and quoted, differing rows shown as text, bounded in number).
 */
public record ComparisonResult(int tablesCompared, long rowsCompared, List<String> differences) {
    public ComparisonResult {
        differences = List.copyOf(differences);
    }

    public boolean identical() {
        return differences.isEmpty();
    }

    @Override
    public String toString() {
        String head = tablesCompared + " tables, " + rowsCompared + " rows compared";
        return identical() ? head + ": identical" : head + ", " + differences.size() + " differences:\n  " + String.join("\n  ", differences);
    }
}
