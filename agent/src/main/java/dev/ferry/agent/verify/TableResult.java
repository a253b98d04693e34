package dev.ferry.agent.verify;

import dev.ferry.agent.name.QualifiedName;

import java.util.List;

/**
 * How one table compared: rows on each side (summed over its key ranges), how many ranges it was cut into and how
 * many of them had to be read again while the stream caught up, whether some range never stopped changing on the
 * source while it was compared (so it could not be verified), and one line per difference found.
 */
public record TableResult(QualifiedName table, long sourceRows, long targetRows, int ranges, int reread, boolean unsettled,
                          List<String> differences) {
    public TableResult {
        differences = List.copyOf(differences);
    }

    public boolean identical() {
        return differences.isEmpty();
    }
}
