package dev.ferry.agent.apply;

import dev.ferry.agent.name.QualifiedName;

import java.sql.BatchUpdateException;
import java.sql.SQLException;

/** Changes to one table failed on the target; {@link TargetWriter} names the table, the Applier reports it. */
final class RelationFailure extends SQLException {
    private final QualifiedName relation;

    RelationFailure(QualifiedName relation, SQLException cause) {
        super(cause.getMessage(), cause.getSQLState(), cause);
        this.relation = relation;
    }

    QualifiedName relation() {
        return relation;
    }

    /** The server's own error, also from inside a JDBC batch. */
    SQLException serverError() {
        SQLException cause = (SQLException) getCause();
        return cause instanceof BatchUpdateException && cause.getNextException() != null ? cause.getNextException() : cause;
    }
}
