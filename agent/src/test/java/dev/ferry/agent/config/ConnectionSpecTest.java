package dev.ferry.agent.config;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(10)
class ConnectionSpecTest {
    @Test
    void parsesLibpqUriWithEncodedPassword() {
        ConnectionSpec spec = ConnectionSpec.parse("source", "postgres://app:p%40ss%3Aword@db.example:6432/my%20app?sslmode=require");
        assertEquals("db.example", spec.host());
        assertEquals(6432, spec.port());
        assertEquals("my app", spec.database());
        assertEquals("app", spec.user());
        assertEquals("p@ss:word", spec.password().orElseThrow());
        assertEquals("require", spec.parameters().get("sslmode"));
        assertEquals("p@ss:word", spec.jdbcProperties().getProperty("password"));
    }

    @Test
    void parsesJdbcUriWithCredentialsInQuery() {
        ConnectionSpec spec = ConnectionSpec.parse("target", "jdbc:postgresql://localhost/app?user=u&password=secret");
        assertEquals(5432, spec.port());
        assertEquals("u", spec.user());
        assertEquals("secret", spec.password().orElseThrow());
        assertEquals("jdbc:postgresql://localhost:5432/app", spec.jdbcUrl());
    }

    @Test
    void maskedFormsNeverShowThePassword() {
        ConnectionSpec spec = ConnectionSpec.parse("source", "postgres://app:hunter2@db:5432/app");
        assertEquals("postgres://app:****@db:5432/app", spec.masked());
        assertFalse(spec.toString().contains("hunter2"));
        assertFalse(spec.libpqUri().contains("hunter2"));
        assertEquals("hunter2", spec.libpqEnvironment().get("PGPASSWORD"));
    }

    @Test
    void badUriIsBadInputAndDoesNotEchoThePassword() {
        FerryException e = assertThrows(FerryException.class, () -> ConnectionSpec.parse("source", "mysql://root:hunter2@db/app"));
        assertEquals(ExitCode.BAD_INPUT, e.exitCode());
        assertFalse(e.describe().contains("hunter2"), e.describe());
        assertTrue(e.describe().contains("--source"), e.describe());
    }

    @Test
    void uriWithoutDatabaseIsRejectedWithTheFix() {
        FerryException e = assertThrows(FerryException.class, () -> ConnectionSpec.parse("target", "postgres://u:pw@db:5432"));
        assertTrue(e.why().contains("names no database"), e.why());
        assertFalse(e.describe().contains(":pw@"), e.describe());
    }

    @Test
    void badPortIsNamed() {
        FerryException e = assertThrows(FerryException.class, () -> ConnectionSpec.parse("target", "postgres://u@db:54x2/app"));
        assertTrue(e.why().contains("54x2"), e.why());
    }
}
