package dev.ferry.agent.schema;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** How stored database settings become ALTER DATABASE statements (the server round trip is in SchemaCopyTest). */
@Timeout(10)
class DatabaseSettingsTest {
    @Test
    void listSettingsAreQuotedElementByElementAndOthersAsOneLiteral() {
        assertEquals(List.of(
                        "ALTER DATABASE \"Target DB\" SET \"search_path\" TO 'app', '$user', 'My \"Schema\"', 'a,b', ''",
                        "ALTER DATABASE \"Target DB\" SET \"app.note\" TO 'it''s, \"quoted\"'",
                        "ALTER DATABASE \"Target DB\" SET \"work_mem\" TO '8MB'"),
                DatabaseSettings.statements(List.of(
                        "search_path=app, \"$user\", \"My \"\"Schema\"\"\", \"a,b\", \"\"",
                        "app.note=it's, \"quoted\"",
                        "work_mem=8MB"), "Target DB"));
    }
}
