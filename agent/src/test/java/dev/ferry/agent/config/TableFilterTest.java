package dev.ferry.agent.config;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.name.QualifiedName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The pattern syntax of --include-schema, --exclude-schema, --include-table, --exclude-table and --skip-table-data. */
@Timeout(10)
class TableFilterTest {
    private static QualifiedName t(String schema, String table) {
        return new QualifiedName(schema, table);
    }

    private static TableFilter filter(List<String> includeSchemas, List<String> excludeSchemas, List<String> includeTables,
                                      List<String> excludeTables, List<String> skipData) {
        return TableFilter.parse(includeSchemas, excludeSchemas, includeTables, excludeTables, skipData);
    }

    @Test
    void wildcardsMatchWholeNamesAndUnquotedLettersFoldToLowerCase() {
        TableFilter f = filter(List.of(), List.of(), List.of("App.Order_*", "app.item?"), List.of(), List.of());
        assertTrue(f.migrates(t("app", "order_lines")));
        assertTrue(f.migrates(t("app", "order_")));
        assertTrue(f.migrates(t("app", "items")));
        assertFalse(f.migrates(t("app", "item")), "? is exactly one character");
        assertFalse(f.migrates(t("app", "orders")), "_ is a literal, not LIKE's wildcard");
        assertFalse(f.migrates(t("app", "Order_lines")), "unquoted patterns fold to lower case");
        assertFalse(f.migrates(t("app2", "order_lines")), "the schema part matches the whole name");
    }

    @Test
    void doubleQuotedPartsAreLiteralAndCaseSensitive() {
        TableFilter f = filter(List.of(), List.of(), List.of("\"My App\".\"Order*\"", "\"a.b\".\"say \"\"hi\"\"\""), List.of(), List.of());
        assertTrue(f.migrates(t("My App", "Order*")));
        assertFalse(f.migrates(t("My App", "Orders")), "* inside quotes is a literal star");
        assertFalse(f.migrates(t("my app", "Order*")));
        assertTrue(f.migrates(t("a.b", "say \"hi\"")), "a dot inside quotes is part of the name; \"\" is one quote");
    }

    @Test
    void aTablePatternWithoutSchemaMatchesInEverySchema() {
        TableFilter f = filter(List.of(), List.of(), List.of(), List.of("audit_*"), List.of());
        assertFalse(f.migrates(t("app", "audit_log")));
        assertFalse(f.migrates(t("billing", "audit_2024")));
        assertTrue(f.migrates(t("app", "orders")));
    }

    @Test
    void exclusionWinsOverInclusion() {
        TableFilter f = filter(List.of("app*"), List.of("app_archive"), List.of("*.order*"), List.of("app.orders_old"), List.of());
        assertTrue(f.migrates(t("app", "orders")));
        assertTrue(f.migrates(t("app_eu", "order_lines")));
        assertFalse(f.migrates(t("app", "orders_old")), "--exclude-table wins over --include-table");
        assertFalse(f.migrates(t("app_archive", "orders")), "--exclude-schema wins over --include-schema");
        assertFalse(f.migrates(t("public", "orders")), "a schema not included");
        assertFalse(f.migrates(t("app", "customers")), "a table not included");
        assertTrue(f.migratesSchema("app_eu"));
        assertFalse(f.migratesSchema("app_archive"));
    }

    @Test
    void skipTableDataKeepsTheTableButNotItsRows() {
        TableFilter f = filter(List.of(), List.of(), List.of(), List.of(), List.of("app.events"));
        assertTrue(f.migrates(t("app", "events")));
        assertFalse(f.copiesRows(t("app", "events")));
        assertFalse(f.copiesRows(t("app", "events_2024"), t("app", "events")), "a partition of a skip-data table has no rows copied either");
        assertTrue(f.copiesRows(t("app", "orders")));
    }

    @Test
    void aPartitionFollowsItsRootUnlessNamedItself() {
        TableFilter f = filter(List.of(), List.of(), List.of("app.events"), List.of("app.events_2023"), List.of());
        assertTrue(f.migrates(t("app", "events_2024"), t("app", "events")), "included with its root though --include-table names only the root");
        assertFalse(f.migrates(t("app", "events_2023"), t("app", "events")));
        assertFalse(f.migrates(t("app", "other_2024"), t("app", "other")));
    }

    @Test
    void aSequenceGoesWithItsSchemaAndTheTableThatOwnsIt() {
        TableFilter f = filter(List.of(), List.of("scratch"), List.of(), List.of("app.audit"), List.of());
        assertTrue(f.migratesSequence(t("app", "invoice_no"), null));
        assertFalse(f.migratesSequence(t("app", "audit_id_seq"), t("app", "audit")));
        assertFalse(f.migratesSequence(t("scratch", "s"), null));
    }

    @Test
    void patternsThatMatchNothingAreNamedAsTyped() {
        TableFilter f = filter(List.of("app"), List.of("archiv"), List.of("app.ordrs", "app.order*"), List.of(), List.of("App.Events"));
        assertEquals(List.of("--exclude-schema 'archiv'", "--include-table 'app.ordrs'"),
                f.unmatched(List.of("app", "archive"), List.of(t("app", "orders"), t("app", "events"))));
    }

    @Test
    void theOldExactExclusionStillLeavesOutExactlyThoseTables() {
        TableFilter f = TableFilter.excluding(Set.of(t("app", "Order*")));
        assertFalse(f.migrates(t("app", "Order*")));
        assertTrue(f.migrates(t("app", "Orders")));
        assertTrue(TableFilter.NONE.migrates(t("any", "thing")));
        assertTrue(TableFilter.NONE.isEmpty());
    }

    @Test
    void badPatternsAreBadInputNamingOptionAndPattern() {
        for (List<String> bad : List.of(List.of("--exclude-table", "db.app.orders"), List.of("--exclude-table", "app."), List.of("--exclude-table", ".orders"),
                List.of("--include-table", "app.\"Orders"), List.of("--include-table", ""), List.of("--include-schema", "app.x"),
                List.of("--skip-table-data", "app.order items"), List.of("--exclude-schema", "\"\""))) {
            String option = bad.get(0);
            List<String> value = List.of(bad.get(1));
            FerryException e = assertThrows(FerryException.class, () -> filter(
                    option.equals("--include-schema") ? value : List.of(), option.equals("--exclude-schema") ? value : List.of(),
                    option.equals("--include-table") ? value : List.of(), option.equals("--exclude-table") ? value : List.of(),
                    option.equals("--skip-table-data") ? value : List.of()), String.join(" ", bad));
            assertEquals(ExitCode.BAD_INPUT, e.exitCode());
            assertTrue(e.what().startsWith(option + " '" + bad.get(1) + "' is not a valid pattern"), e.describe());
        }
    }
}
