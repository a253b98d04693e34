package dev.ferry.agent.demo;

/**
 * The kinds of transaction the {@link Workload} runs, each aimed at one thing a migration must replay. The weight
 * is the relative chance of being chosen; every kind also runs once in the workload's first round.
 */
public enum Operation {
    INSERT_ORDER(12, "insert an order with 1-3 lines (the audit trigger logs it)"),
    UPDATE_ORDER(10, "update non-key columns of an order"),
    DELETE_ORDER(4, "delete an order; its lines go by ON DELETE CASCADE"),
    INSERT_CUSTOMER(4, "insert a customer (GENERATED ALWAYS identity)"),
    DELETE_CUSTOMER(1, "delete a customer; orders and lines cascade two levels"),
    CHANGE_PRODUCT_KEY(3, "change a product's text primary key; order lines follow by ON UPDATE CASCADE"),
    CHANGE_LINE_KEY(3, "change one column of an order line's two-column primary key"),
    UPDATE_DOCUMENT_KEEP_TOAST(6, "update a document's version only; its TOASTed body, payload and meta stay unchanged"),
    UPDATE_DOCUMENT_TOAST(2, "replace a document's TOASTed body"),
    INSERT_EVENT(8, "insert into the partitioned events table"),
    MOVE_EVENT_PARTITION(5, "change an event's date so the row moves to another partition"),
    DELETE_EVENT(3, "delete an event"),
    NUMERIC_SPECIAL_VALUES(5, "write NaN and (PostgreSQL 14+) Infinity/-Infinity numerics and floats"),
    INSERT_DUPLICATE(4, "insert two identical rows into the REPLICA IDENTITY FULL table"),
    UPDATE_ONE_DUPLICATE(4, "update one of several identical rows (by ctid) in the REPLICA IDENTITY FULL table"),
    DELETE_ONE_DUPLICATE(3, "delete one of several identical rows (by ctid) in the REPLICA IDENTITY FULL table"),
    NO_IDENTITY_INSERT(3, "insert into the table with no primary key and no replica identity"),
    NO_IDENTITY_UPDATE(2, "update the no-identity table (rows keep their values, see Workload)"),
    NO_IDENTITY_DELETE(2, "delete from the no-identity table (matches no row, see Workload)"),
    TRUNCATE_AND_REFILL(1, "truncate the settings table and fill it again in the same transaction"),
    TRUNCATE_THEN_REFILL(1, "truncate the settings table, commit, then fill it in a second transaction"),
    UPSERT_HOSTILE_NAMES(4, "insert or update a row of \"Ünïcode Schema\".\"Order \"\"Items\"\"\""),
    SEQUENCE_NEXTVAL(3, "take a number from the standalone sequence (not in the WAL stream)"),
    MULTI_TABLE(4, "one transaction touching customers, orders, lines, events, settings, page views, documents"),
    ROLLBACK(2, "insert and update, then roll back: nothing of it may reach the target");

    private final int weight;
    private final String description;

    Operation(int weight, String description) {
        this.weight = weight;
        this.description = description;
    }

    int weight() { return weight; }

    public String description() { return description; }
}
