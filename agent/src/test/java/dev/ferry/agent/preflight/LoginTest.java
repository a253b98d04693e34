package dev.ferry.agent.preflight;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.testing.FerryCommand;
import dev.ferry.testing.DebianPostgres;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.ferry.agent.preflight.PreflightTest.ferry;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Logins that fail the way they do against managed servers, each in one clear line that never shows the password:
 * a wrong password, a server that takes only TLS, and TLS asked of a server that has none. The source is a real
 * PostgreSQL with scram-sha-256 passwords and TLS only (Debian's server, a self-signed certificate).
 */
@Timeout(180)
class LoginTest {
    private static final String PASSWORD = "s3cret-Pw";
    private static DebianPostgres secured;
    private static TestPostgres plain;

    @BeforeAll
    static void startServers() {
        assumeTrue(DebianPostgres.available(), "Debian's postgresql-15 is not installed (apt-get install postgresql-15)");
        secured = DebianPostgres.startWithPasswordAndTls(PASSWORD);
        plain = TestPostgres.start();
        plain.createDatabase("login_target");
    }

    @AfterAll
    static void stopServers() {
        if (secured != null) secured.close();
        if (plain != null) plain.close();
    }

    private static FerryCommand preflightFrom(String sourceUri) {
        return ferry("preflight", "--source", sourceUri, "--target", plain.uri("login_target"));
    }

    private static String uri(String password, String sslmode) {
        return "postgres://postgres:" + password + "@127.0.0.1:" + secured.port() + "/postgres?sslmode=" + sslmode;
    }

    @Test
    void wrongPasswordSaysSoWithoutPrintingIt() {
        FerryCommand result = preflightFrom(uri("Wrong-Pw-42", "require"));
        String all = result.out() + result.err();
        assertEquals(ExitCode.UNREACHABLE, result.code(), all);
        assertTrue(all.contains("cannot log in to the source postgres://postgres:****@127.0.0.1:" + secured.port() + "/postgres"), all);
        assertTrue(all.contains("password authentication failed for user \"postgres\""), all);
        assertTrue(all.contains("check the user and password in --source"), all);
        assertFalse(all.contains("Wrong-Pw-42"), "the password is never printed:\n" + all);
    }

    @Test
    void serverThatTakesOnlyTlsAsksForSslmodeRequire() {
        FerryCommand result = preflightFrom(uri(PASSWORD, "disable"));
        String all = result.out() + result.err();
        assertEquals(ExitCode.UNREACHABLE, result.code(), all);
        assertTrue(all.contains("accepts only TLS (SSL) connections from this host"), all);
        assertTrue(all.contains("add sslmode=require to --source"), all);
        assertFalse(all.contains(PASSWORD), all);
    }

    @Test
    void withTlsAndTheRightPasswordPreflightGetsIn() {
        FerryCommand result = preflightFrom(uri(PASSWORD, "require"));
        String all = result.out() + result.err();
        assertNotEquals(ExitCode.UNREACHABLE, result.code(), all);
        assertTrue(all.contains("PASS source-is-standby"), all);
        assertTrue(all.contains("PASS pooler: a replication connection reaches the server directly"), "the replication connection uses TLS too:\n" + all);
        assertFalse(all.contains(PASSWORD), all);
    }

    /** verify-full checks the certificate against the CA and the host name: the server's CN is localhost. */
    @Test
    void verifyFullWithTheServersCaGetsInUnderItsNameAndIsRefusedUnderAnother() {
        String query = "/postgres?sslmode=verify-full&sslrootcert=" + secured.certificate();
        FerryCommand named = preflightFrom("postgres://postgres:" + PASSWORD + "@localhost:" + secured.port() + query);
        String all = named.out() + named.err();
        assertNotEquals(ExitCode.UNREACHABLE, named.code(), all);
        assertTrue(all.contains("PASS source-is-standby"), all);

        FerryCommand otherName = preflightFrom("postgres://postgres:" + PASSWORD + "@127.0.0.1:" + secured.port() + query);
        String refused = otherName.out() + otherName.err();
        assertEquals(ExitCode.UNREACHABLE, otherName.code(), refused);
        assertTrue(refused.contains("its TLS certificate does not name the host '127.0.0.1'"), refused);
        assertTrue(refused.contains("sslmode=verify-ca"), refused);
        assertFalse((all + refused).contains(PASSWORD), "the password is never printed");
    }

    @Test
    void verifyFullWithAnotherCaIsRefusedNamingTheCertificate() throws Exception {
        Path dir = Files.createTempDirectory("ferry-other-ca-");
        Process openssl = new ProcessBuilder("openssl", "req", "-new", "-x509", "-days", "2", "-nodes", "-subj", "/CN=localhost",
                "-keyout", dir.resolve("other.key").toString(), "-out", dir.resolve("other.crt").toString()).redirectErrorStream(true).start();
        assertEquals(0, openssl.waitFor(), new String(openssl.getInputStream().readAllBytes()));
        FerryCommand result = preflightFrom("postgres://postgres:" + PASSWORD + "@localhost:" + secured.port()
                + "/postgres?sslmode=verify-full&sslrootcert=" + dir.resolve("other.crt"));
        String all = result.out() + result.err();
        assertEquals(ExitCode.UNREACHABLE, result.code(), all);
        assertTrue(all.contains("its TLS certificate is not signed by a CA ferry trusts"), all);
        assertTrue(all.contains("sslrootcert=/path/ca.crt"), all);
    }

    @Test
    void tlsAskedOfAServerWithoutItIsNamed() {
        FerryCommand result = ferry("preflight", "--source", "postgres://postgres@localhost:" + plain.port() + "/postgres?sslmode=require",
                "--target", plain.uri("login_target"));
        String all = result.out() + result.err();
        assertEquals(ExitCode.UNREACHABLE, result.code(), all);
        assertTrue(all.contains("asks for TLS (sslmode=require), but the server has TLS switched off"), all);
    }
}
