package dev.ferry.replication.pgoutput;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Decodes pgoutput bytes captured from real servers by {@link PgOutputCapture} (workload in its WORKLOAD list). */
@Timeout(30)
class PgOutputDecoderTest {

    private static List<PgOutputMessage> decode(int major) throws IOException {
        int protocol = major >= 16 ? 4 : major == 15 ? 3 : major == 14 ? 2 : 1;
        PgOutputDecoder decoder = new PgOutputDecoder(protocol, false);
        List<PgOutputMessage> messages = new ArrayList<>();
        boolean insideStream = false;
        try (InputStream resource = PgOutputDecoderTest.class.getResourceAsStream("/pgoutput/pg" + major + ".bin");
             DataInputStream in = new DataInputStream(resource)) {
            while (in.available() > 0) {
                byte[] payload = in.readNBytes(in.readInt());
                PgOutputMessage message = decoder.decode(ByteBuffer.wrap(payload), insideStream);
                if (message instanceof StreamStart) insideStream = true;
                if (message instanceof StreamStop) insideStream = false;
                messages.add(message);
            }
        }
        return messages;
    }

    /** Messages with stream wrappers removed, for assertions that hold whether or not a transaction was streamed. */
    private static Stream<PgOutputMessage> unwrapped(List<PgOutputMessage> messages) {
        return messages.stream().map(m -> m instanceof Streamed s ? s.message() : m);
    }

    private static <T> List<T> all(List<PgOutputMessage> messages, Class<T> type) {
        return unwrapped(messages).filter(type::isInstance).map(type::cast).toList();
    }

    private static Relation relation(List<PgOutputMessage> messages, String name) {
        return all(messages, Relation.class).stream().filter(r -> r.name().equals(name)).findFirst().orElseThrow();
    }

    private static String text(Tuple tuple, int column) {
        return ((TupleValue.Text) tuple.values().get(column)).value();
    }

    @ParameterizedTest(name = "PostgreSQL {0}")
    @ValueSource(ints = {13, 15, 17})
    void relationsCarryNamesKeysAndReplicaIdentity(int major) throws IOException {
        List<PgOutputMessage> messages = decode(major);
        Relation items = relation(messages, "items");
        assertEquals("public", items.namespace());
        assertEquals('d', items.replicaIdentity());
        assertEquals(List.of("id", "name", "big", "amount", "feeling"), items.columns().stream().map(Relation.Column::name).toList());
        assertEquals(List.of(true, false, false, false, false), items.columns().stream().map(Relation.Column::partOfKey).toList());
        assertEquals(1700, items.columns().get(3).typeOid(), "numeric");

        Relation dupes = relation(messages, "dupes");
        assertEquals('f', dupes.replicaIdentity());
        assertTrue(dupes.columns().stream().allMatch(Relation.Column::partOfKey), "FULL: every column identifies the row");

        assertEquals("Odd \"Name\" Ü", relation(messages, "Odd \"Name\" Ü").name());
        Type mood = all(messages, Type.class).stream().filter(t -> t.name().equals("mood")).findFirst().orElseThrow();
        assertEquals("public", mood.namespace());
    }

    @ParameterizedTest(name = "PostgreSQL {0}")
    @ValueSource(ints = {13, 15, 17})
    void rowChangesCarryTextNullsUnchangedToastAndOldKeys(int major) throws IOException {
        List<PgOutputMessage> messages = decode(major);
        int items = relation(messages, "items").relationId();
        List<Insert> inserts = all(messages, Insert.class).stream().filter(i -> i.relationId() == items).toList();
        Tuple first = inserts.get(0).row();
        assertEquals("1", text(first, 0));
        assertEquals("one", text(first, 1));
        assertEquals(9600, text(first, 2).length());
        assertEquals("1.5", text(first, 3));
        assertEquals("happy", text(first, 4));
        Tuple second = inserts.get(1).row();
        assertInstanceOf(TupleValue.Null.class, second.values().get(1));
        assertEquals("NaN", text(second, 3));

        List<Update> updates = all(messages, Update.class).stream().filter(u -> u.relationId() == items).toList();
        Update rename = updates.get(0);
        assertTrue(rename.old().isEmpty(), "a non-key change sends no old tuple");
        assertEquals("uno", text(rename.next(), 1));
        assertInstanceOf(TupleValue.UnchangedToast.class, rename.next().values().get(2), "the TOASTed value was not touched");

        Update keyChange = updates.get(1);
        assertEquals("2", text(keyChange.old().orElseThrow(), 0), "old key");
        assertInstanceOf(TupleValue.Null.class, keyChange.old().get().values().get(1), "a key tuple nulls other columns");
        assertEquals("10", text(keyChange.next(), 0));

        Delete delete = all(messages, Delete.class).stream().filter(d -> d.relationId() == items).findFirst().orElseThrow();
        assertEquals("10", text(delete.old(), 0));
    }

    @ParameterizedTest(name = "PostgreSQL {0}")
    @ValueSource(ints = {13, 15, 17})
    void replicaIdentityFullSendsWholeOldRows(int major) throws IOException {
        List<PgOutputMessage> messages = decode(major);
        int dupes = relation(messages, "dupes").relationId();
        Update update = all(messages, Update.class).stream().filter(u -> u.relationId() == dupes).findFirst().orElseThrow();
        assertEquals(List.of("1", "x"), List.of(text(update.old().orElseThrow(), 0), text(update.old().get(), 1)));
        assertEquals("y", text(update.next(), 1));
        Delete delete = all(messages, Delete.class).stream().filter(d -> d.relationId() == dupes).findFirst().orElseThrow();
        assertEquals(List.of("1", "y"), List.of(text(delete.old(), 0), text(delete.old(), 1)));
    }

    @ParameterizedTest(name = "PostgreSQL {0}")
    @ValueSource(ints = {13, 15, 17})
    void truncateCarriesEveryRelationAndItsOptions(int major) throws IOException {
        List<PgOutputMessage> messages = decode(major);
        Truncate truncate = all(messages, Truncate.class).get(0);
        assertEquals(2, truncate.relationIds().size());
        assertTrue(truncate.cascade());
        assertTrue(truncate.restartIdentity());
    }

    @ParameterizedTest(name = "PostgreSQL {0}")
    @ValueSource(ints = {13, 15, 17})
    void transactionsAreBracketedWithConsistentPositions(int major) throws IOException {
        List<PgOutputMessage> messages = decode(major);
        List<Begin> begins = all(messages, Begin.class);
        List<Commit> commits = all(messages, Commit.class);
        assertEquals(begins.size(), commits.size());
        for (int i = 0; i < commits.size(); i++) {
            assertEquals(begins.get(i).finalLsn(), commits.get(i).commitLsn());
            assertTrue(commits.get(i).endLsn().isAfter(commits.get(i).commitLsn()));
            assertTrue(commits.get(i).commitTime().getEpochSecond() > 1_700_000_000L, "a real timestamp");
        }
    }

    @Test
    void postgres13SendsTheBigTransactionWholeAtCommit() throws IOException {
        List<PgOutputMessage> messages = decode(13);
        assertFalse(messages.stream().anyMatch(m -> m instanceof StreamStart), "protocol 1 has no streaming");
        long bulk = all(messages, Insert.class).stream().filter(i -> i.row().values().size() == 5 && "bulk".equals(
                i.row().values().get(1) instanceof TupleValue.Text t ? t.value() : null)).count();
        assertEquals(2001, bulk);
        assertFalse(all(messages, Insert.class).stream().anyMatch(i -> i.row().values().size() > 1 && i.row().values().get(1) instanceof TupleValue.Text t && t.value().equals("undone")),
                "rolled-back subtransaction is not sent");
    }

    @ParameterizedTest(name = "PostgreSQL {0}")
    @ValueSource(ints = {15, 17})
    void bigTransactionIsStreamedWithItsRolledBackSubtransactionAborted(int major) throws IOException {
        List<PgOutputMessage> messages = decode(major);
        StreamStart start = messages.stream().filter(m -> m instanceof StreamStart).map(StreamStart.class::cast).findFirst().orElseThrow();
        assertTrue(start.firstSegment());
        StreamAbort abort = messages.stream().filter(m -> m instanceof StreamAbort).map(StreamAbort.class::cast).findFirst().orElseThrow();
        assertEquals(start.xid(), abort.xid());
        assertTrue(abort.subXid() != abort.xid(), "only the subtransaction rolled back");
        assertTrue(abort.abortLsn().isEmpty(), "abort LSN is only sent with parallel streaming");
        StreamCommit commit = messages.stream().filter(m -> m instanceof StreamCommit).map(StreamCommit.class::cast).findFirst().orElseThrow();
        assertEquals(start.xid(), commit.xid());
        assertTrue(messages.stream().anyMatch(m -> m instanceof Streamed s && s.xid() == abort.subXid() && s.message() instanceof Insert),
                "changes of the subtransaction were streamed before it rolled back");
        LogicalMessage hello = all(messages, LogicalMessage.class).get(0);
        assertTrue(hello.transactional());
        assertEquals("ferry-test", hello.prefix());
        assertEquals("hello", new String(hello.content()));
    }

    @Test
    void unknownMessageKindNamesTheByte() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new PgOutputDecoder(1, false).decode(ByteBuffer.wrap(new byte[] {'Z', 0, 0, 0, 0}), false));
        assertTrue(e.getMessage().contains("'Z'"), e.getMessage());
    }
}
