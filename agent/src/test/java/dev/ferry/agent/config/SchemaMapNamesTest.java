package dev.ferry.agent.config;

import dev.ferry.agent.name.QualifiedName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A table filter is written in source names; where ferry reads the target (verify, sequences, post-data's catalog
 * under --schema-map) it matches target names through {@link SchemaMap#source}, the map's inverse.
 */
@Timeout(10)
class SchemaMapNamesTest {
    private final SchemaMap map = SchemaMap.parse(List.of("public=app1", "\"Sales\"=app1_sales"));

    @Test
    void sourceIsTheInverseOfTarget() {
        QualifiedName orders = new QualifiedName("public", "orders");
        QualifiedName invoices = new QualifiedName("Sales", "invoices");
        QualifiedName kept = new QualifiedName("audit", "log");
        for (QualifiedName name : List.of(orders, invoices, kept)) assertEquals(name, map.source(map.target(name)));
        assertEquals(new QualifiedName("app1", "orders"), map.target(orders));
        assertEquals("Sales", map.source("app1_sales"));
        assertEquals("elsewhere", map.source("elsewhere"));
        assertEquals("app1", SchemaMap.NONE.source("app1"));
    }

    @Test
    void aFilterInSourceNamesMatchesTheTargetsNamesThroughTheInverse() {
        TableFilter filter = TableFilter.parse(List.of(), List.of(), List.of(), List.of("public.audit_*"), List.of());
        QualifiedName onTarget = new QualifiedName("app1", "audit_2024");
        assertTrue(filter.copiesRows(onTarget), "the target's name alone escapes the filter");
        assertFalse(filter.copiesRows(map.source(onTarget)));
        assertTrue(filter.copiesRows(map.source(new QualifiedName("app1", "orders"))));
    }
}
