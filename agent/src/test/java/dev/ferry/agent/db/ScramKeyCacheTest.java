package dev.ferry.agent.db;

import dev.ferry.testing.DebianPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

@Timeout(120)
class ScramKeyCacheTest {
    private static final String ALGORITHM = "PBKDF2WithHmacSHA256";

    @Test
    void answersExactlyWhatTheJdkDerivesAndDerivesEachInputOnce() throws Exception {
        ScramKeyCache.install();
        SecretKeyFactory cached = SecretKeyFactory.getInstance(ALGORITHM);
        SecretKeyFactory jdk = SecretKeyFactory.getInstance(ALGORITHM, "SunJCE");
        assertEquals("FerryScramKeyCache", cached.getProvider().getName(), "the cache must come first for pgjdbc's lookup");

        byte[] salt = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
        byte[] otherSalt = salt.clone();
        otherSalt[0] = 99;
        int before = ScramKeyCache.entries();
        for (int i = 0; i < 3; i++) {
            assertArrayEquals(derive(jdk, "pw-one", salt, 4096), derive(cached, "pw-one", salt, 4096));
        }
        assertEquals(before + 1, ScramKeyCache.entries(), "the same password, salt and rounds are derived once");
        // Anything that changes the result is another entry, never the remembered one.
        assertArrayEquals(derive(jdk, "pw-two", salt, 4096), derive(cached, "pw-two", salt, 4096));
        assertArrayEquals(derive(jdk, "pw-one", otherSalt, 4096), derive(cached, "pw-one", otherSalt, 4096));
        assertArrayEquals(derive(jdk, "pw-one", salt, 4097), derive(cached, "pw-one", salt, 4097));
        assertEquals(before + 4, ScramKeyCache.entries());
    }

    @Test
    void scramLoginsWorkAndAWrongPasswordStillFails() throws Exception {
        assumeTrue(DebianPostgres.available(), "Debian's postgresql-15 is not installed (apt-get install postgresql-15)");
        ScramKeyCache.install();
        String password = "Right-Pw-7";
        try (DebianPostgres server = DebianPostgres.startWithPasswordAndTls(password)) {
            String url = "jdbc:postgresql://127.0.0.1:" + server.port() + "/postgres?sslmode=require";
            for (int i = 0; i < 2; i++) {
                try (Connection c = DriverManager.getConnection(url, credentials(password))) {
                    assertTrue(c.isValid(5));
                }
            }
            SQLException refused = assertThrows(SQLException.class, () -> DriverManager.getConnection(url, credentials("Wrong-Pw-7")).close());
            assertEquals("28P01", refused.getSQLState(), "a wrong password is refused after right ones: " + refused.getMessage());
            try (Connection c = DriverManager.getConnection(url, credentials(password))) {
                assertTrue(c.isValid(5), "and the right one still gets in after it");
            }
        }
    }

    private static byte[] derive(SecretKeyFactory factory, String password, byte[] salt, int rounds) throws Exception {
        return factory.generateSecret(new PBEKeySpec(password.toCharArray(), salt, rounds, 256)).getEncoded();
    }

    private static Properties credentials(String password) {
        Properties p = new Properties();
        p.setProperty("user", "postgres");
        p.setProperty("password", password);
        return p;
    }
}
