package dev.ferry.agent.apply;

import dev.ferry.agent.name.QualifiedName;

import java.util.List;

/**
 * A source relation as the stream describes it (its RELATION message), matched to the target table's column types.
 *
 * @param columns      column names in the order tuples carry them
 * @param types        the target's type of each column, as SQL (format_type), for explicit casts
 * @param key          indexes of the columns that identify a row (primary key or replica identity index); empty when
 *                     the relation has REPLICA IDENTITY FULL or none
 * @param fullIdentity REPLICA IDENTITY FULL: rows are found by all their old values, one at a time
 * @param numeric      per column, whether it is of type numeric (NaN/Infinity handling)
 * @param generated    per column, whether it is a generated column on the target (sent by PostgreSQL 18+ sources
 *                     only): its values are left out, the target computes them
 * @param partitioned  the target table is partitioned (ctid alone does not identify a row there)
 * @param coalescible  the key is the target's only unique constraint, so changes to different keys commute and a
 *                     later upsert of a key may replace an earlier one still waiting in the batch
 */
record TargetRelation(QualifiedName name, List<String> columns, List<String> types, int[] key, boolean fullIdentity,
                      boolean[] numeric, boolean[] generated, boolean partitioned, boolean coalescible) {

    boolean hasKey() {
        return key.length > 0;
    }

    String quotedColumn(int index) {
        return QualifiedName.quote(columns.get(index));
    }

    String parameter(int index) {
        return "?::" + types.get(index);
    }
}
