package dev.ferry.agent.db;

import dev.ferry.agent.FerryException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.SocketException;
import java.sql.SQLException;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Which failures ferry waits out and resumes after, and which stop it: {@link ConnectionFailures#isTransient}. */
@Timeout(10)
class TransientFailureTest {

    @ParameterizedTest
    @ValueSource(strings = {"08000", "08001", "08003", "08006", "08007", "57P01", "57P02", "57P03", "53100", "53200", "53300",
            "40001", "40P01", "55006"})
    void connectionLossesShutdownsShortagesAndRollbacksAreWaitedOut(String sqlState) {
        assertTrue(ConnectionFailures.isTransient(new SQLException("server said so", sqlState)), sqlState);
    }

    @ParameterizedTest
    @ValueSource(strings = {"08P01", "08004", "28P01", "28000", "3D000", "42P01", "42501", "23505", "22P02", "57014", "57P04",
            "58030", "53400", "XX000"})
    void protocolViolationsRefusalsAndDataErrorsStopTheAgent(String sqlState) {
        assertFalse(ConnectionFailures.isTransient(new SQLException("server said so", sqlState)), sqlState);
    }

    @Test
    void theServersStateDecidesUnderACopysIoException() {
        // pgjdbc's PGCopyOutputStream reports a failed write as an IOException around the server's error.
        FerryException diskFull = new FerryException("copy of \"public\".\"t\" failed.", "", "",
                new IOException("Write to copy failed.", new SQLException("could not extend file", "53100")));
        FerryException duplicate = new FerryException("copy of \"public\".\"t\" failed.", "", "",
                new IOException("Write to copy failed.", new SQLException("duplicate key value", "23505")));
        assertTrue(ConnectionFailures.isTransient(diskFull));
        assertFalse(ConnectionFailures.isTransient(duplicate), "a duplicate key is not cured by waiting, IOException or not");
    }

    @Test
    void aSocketFailureWithoutStateIsWaitedOut() {
        assertTrue(ConnectionFailures.isTransient(new IOException("read failed", new SocketException("Connection reset"))));
    }

    @Test
    void theAgentsOwnFullDiskIsWaitedOutButNotOtherFileErrors() {
        assertTrue(ConnectionFailures.isTransient(new UncheckedIOException("cannot write the in-progress transaction",
                new IOException(ConnectionFailures.NO_SPACE))));
        assertFalse(ConnectionFailures.isTransient(new UncheckedIOException("cannot prepare the spill directory",
                new IOException("Permission denied"))));
        assertFalse(ConnectionFailures.isTransient(new FerryException("what", "why", "fix")));
    }
}
