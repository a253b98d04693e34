package dev.ferry.replication.pgoutput;

import dev.ferry.replication.Lsn;
import dev.ferry.replication.pgoutput.TupleValue.Null;
import dev.ferry.replication.pgoutput.TupleValue.Text;
import dev.ferry.replication.pgoutput.TupleValue.UnchangedToast;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Decodes pgoutput bytes captured from real servers (see PgOutputCapture) and checks every field. */
@Timeout(30)
class PgOutputDecoderTest {
    private static final Instant CAPTURED_AFTER = Instant.parse("2024-01-01T00:00:00Z");

    private static CapturedCase load(int major, String name) {
        assumeTrue(CapturedCase.exists(major, name), "no capture of " + name + " from PostgreSQL " + major);
        return CapturedCase.load(major, name);
    }

    private static Tuple tuple(TupleValue... values) { return new Tuple(List.of(values)); }

    private static Text text(String value) { return new Text(value); }

    private static final Null NULL = new Null();

    /** Begin and Commit of a plain transaction agree with each other and with the facts recorded at capture. */
    private static void assertTransactionFrame(CapturedCase c, int commitIndex) {
        Begin begin = (Begin) c.get(0);
        Commit commit = (Commit) c.get(commitIndex);
        assertEquals(c.xid(), begin.xid());
        assertEquals(begin.finalLsn(), commit.commitLsn());
        assertTrue(commit.commitLsn().isAfter(c.lsnBefore()), "commit after the LSN read before the workload");
        assertTrue(commit.endLsn().isAfter(commit.commitLsn()));
        assertEquals(0, commit.flags());
        assertEquals(begin.commitTime(), commit.commitTime());
        assertTrue(commit.commitTime().isAfter(CAPTURED_AFTER), "commit time " + commit.commitTime());
        // The server sends Commit at the end of the commit record: the position a consumer confirms.
        assertEquals(commit.endLsn(), c.messages().get(commitIndex).walStart());
    }

    @ParameterizedTest
    @ValueSource(ints = {13, 14, 15, 16})
    void updateCarriesOldKeyOnlyWhenTheKeyChanges(int major) {
        CapturedCase c = load(major, "insert_update_delete");
        assertEquals(List.of("Begin", "Relation", "Insert", "Update", "Update", "Delete", "Commit"), c.kinds());
        assertTransactionFrame(c, 6);
        int id = c.intFact("relationId");
        assertEquals(new Relation(id, "public", "items", 'd', List.of(
                new Relation.Column(true, "id", 23, -1),
                new Relation.Column(false, "name", 25, -1),
                new Relation.Column(false, "note", 25, -1))), c.get(1));
        assertEquals(new Insert(id, tuple(text("1"), text("first"), NULL)), c.get(2));
        assertEquals(new Update(id, Optional.empty(), tuple(text("1"), text("second"), NULL)), c.get(3));
        assertEquals(new Update(id, Optional.of(tuple(text("1"), NULL, NULL)), tuple(text("2"), text("second"), NULL)), c.get(4));
        assertEquals(new Delete(id, tuple(text("2"), NULL, NULL)), c.get(5));
    }

    @ParameterizedTest
    @ValueSource(ints = {13, 14, 15, 16})
    void relationsKeepQuotedUnicodeNamesAndReplicaIdentity(int major) {
        CapturedCase c = load(major, "replica_identity");
        assertEquals(List.of("Begin", "Relation", "Insert", "Update", "Delete", "Relation", "Insert",
                "Relation", "Insert", "Update", "Update", "Commit"), c.kinds());
        assertTransactionFrame(c, 11);

        int full = c.intFact("fullId");
        assertEquals(new Relation(full, "Odd Schema", "Tåble \"quoted\"", 'f', List.of(
                new Relation.Column(true, "Mixed Case", 23, -1),
                new Relation.Column(true, "spa ce", 25, -1),
                new Relation.Column(true, "ünïcode", 25, -1))), c.get(1));
        Tuple before = tuple(text("1"), text("a b"), text("ü €"));
        Tuple after = tuple(text("1"), text("c d"), text("ü €"));
        assertEquals(new Insert(full, before), c.get(2));
        assertEquals(new Update(full, Optional.of(before), after), c.get(3), "REPLICA IDENTITY FULL sends the whole old row ('O')");
        assertEquals(new Delete(full, after), c.get(4));

        int nothing = c.intFact("nothingId");
        assertEquals(new Relation(nothing, "public", "no_identity", 'n', List.of(
                new Relation.Column(false, "id", 23, -1),
                new Relation.Column(false, "v", 25, -1))), c.get(5));
        assertEquals(new Insert(nothing, tuple(text("1"), text("x"))), c.get(6));

        int index = c.intFact("indexId");
        assertEquals(new Relation(index, "public", "by_index", 'i', List.of(
                new Relation.Column(true, "a", 23, -1),
                new Relation.Column(true, "b", 23, -1),
                new Relation.Column(false, "c", 25, -1))), c.get(7));
        assertEquals(new Insert(index, tuple(text("1"), text("2"), text("c"))), c.get(8));
        assertEquals(new Update(index, Optional.of(tuple(text("1"), text("2"), NULL)), tuple(text("1"), text("3"), text("c"))), c.get(9));
        assertEquals(new Update(index, Optional.empty(), tuple(text("1"), text("3"), text("d"))), c.get(10));
    }

    @ParameterizedTest
    @ValueSource(ints = {13, 14, 15, 16})
    void updateLeavingToastUnchangedDoesNotSendIt(int major) {
        CapturedCase c = load(major, "toast");
        assertEquals(List.of("Begin", "Relation", "Insert", "Commit", "Begin", "Update", "Commit"), c.kinds());
        int id = c.intFact("relationId");
        String body = c.facts().getProperty("body");
        assertEquals(10240, body.length());
        assertEquals(new Insert(id, tuple(text("1"), text(body), text("title"), NULL)), c.get(2));
        assertEquals(new Update(id, Optional.empty(), tuple(text("1"), new UnchangedToast(), text("new title"), NULL)), c.get(5));
        assertTrue(((Commit) c.get(3)).endLsn().compareTo(((Begin) c.get(4)).finalLsn()) < 0);
    }

    @ParameterizedTest
    @ValueSource(ints = {13, 14, 15, 16})
    void truncateCarriesItsRelationsAndOptions(int major) {
        CapturedCase c = load(major, "truncate");
        List<Truncate> truncates = c.all(Truncate.class);
        assertEquals(2, truncates.size());
        Truncate cascade = truncates.get(0);
        assertEquals(Set.of(c.intFact("parentId"), c.intFact("childId")), Set.copyOf(cascade.relationIds()));
        assertTrue(cascade.cascade());
        assertTrue(cascade.restartIdentity());
        assertEquals(new Truncate(List.of(c.intFact("itemsId")), false, false), truncates.get(1));
        assertEquals(3, c.all(Commit.class).size());
        // A Relation precedes each truncated relation's first appearance in the session.
        Set<Integer> described = c.all(Relation.class).stream().map(Relation::relationId).collect(Collectors.toSet());
        assertTrue(described.containsAll(cascade.relationIds()));
    }

    @ParameterizedTest
    @ValueSource(ints = {13, 14, 15, 16})
    void userTypeIsNamedBeforeTheRelationUsingIt(int major) {
        CapturedCase c = load(major, "type");
        assertEquals(List.of("Begin", "Type", "Relation", "Insert", "Commit"), c.kinds());
        assertTransactionFrame(c, 4);
        int mood = c.intFact("moodOid");
        assertEquals(new Type(mood, "public", "mood"), c.get(1));
        Relation relation = (Relation) c.get(2);
        assertEquals(List.of(
                new Relation.Column(true, "id", 23, -1),
                new Relation.Column(false, "mood", mood, -1),
                new Relation.Column(false, "score", 1700, (5 << 16 | 2) + 4),
                new Relation.Column(false, "tags", 1015, 14)), relation.columns());
        assertEquals(new Insert(c.intFact("relationId"), tuple(text("1"), text("happy"), text("12.50"), text("{a,\"b c\"}"))), c.get(3));
    }

    @ParameterizedTest
    @ValueSource(ints = {13, 14, 15, 16})
    void originFollowsBeginWithItsNameAndLsn(int major) {
        CapturedCase c = load(major, "origin");
        assertEquals(List.of("Begin", "Origin", "Relation", "Insert", "Commit"), c.kinds());
        assertEquals(new Origin(Lsn.parse("0/12345678"), "ferry_origin"), c.get(1));
        // With an origin, the commit time is the one the origin session supplied.
        Instant supplied = Instant.parse("2001-02-03T04:05:06Z");
        assertEquals(supplied, ((Begin) c.get(0)).commitTime());
        assertEquals(supplied, ((Commit) c.get(4)).commitTime());
    }

    @ParameterizedTest
    @ValueSource(ints = {14, 15, 16})
    void logicalMessagesAreTransactionalOrNot(int major) {
        CapturedCase c = load(major, "message");
        assertEquals(List.of("Begin", "LogicalMessage", "Relation", "Insert", "Commit", "LogicalMessage"), c.kinds());
        assertTransactionFrame(c, 4);
        LogicalMessage inside = (LogicalMessage) c.get(1);
        assertTrue(inside.transactional());
        assertEquals("ferry", inside.prefix());
        assertArrayEquals("hello".getBytes(StandardCharsets.UTF_8), inside.content());
        assertTrue(inside.lsn().isAfter(c.lsnBefore()));
        LogicalMessage outside = (LogicalMessage) c.get(5);
        assertEquals(new LogicalMessage(false, outside.lsn(), "ferry.raw", new byte[] {0, (byte) 0xff, 1}), outside);
        assertTrue(outside.lsn().isAfter(((Commit) c.get(4)).endLsn()) || outside.lsn().equals(((Commit) c.get(4)).endLsn()));
    }

    @ParameterizedTest
    @ValueSource(ints = {14, 15, 16})
    void bigTransactionStreamsInBlocksUntilStreamCommit(int major) {
        CapturedCase c = load(major, "streamed");
        long xid = c.xid();
        List<StreamStart> starts = c.all(StreamStart.class);
        assertTrue(starts.size() > 1, "a 3000-row transaction over 64kB of logical_decoding_work_mem streams in several blocks");
        assertEquals(new StreamStart(xid, true), starts.get(0));
        starts.subList(1, starts.size()).forEach(s -> assertEquals(new StreamStart(xid, false), s));
        assertEquals(starts.size(), c.all(StreamStop.class).size());
        assertEquals(List.of(), c.all(Begin.class));

        List<Streamed> streamed = c.all(Streamed.class);
        streamed.forEach(s -> assertEquals(xid, s.xid()));
        assertTrue(streamed.get(0).message() instanceof Relation r && r.name().equals("bulk") && r.namespace().equals("public"));
        List<Integer> ids = streamed.stream().map(Streamed::message).filter(Insert.class::isInstance)
                .map(m -> Integer.parseInt(((Text) ((Insert) m).row().values().get(0)).value())).collect(Collectors.toList());
        assertEquals(3000, ids.size());
        assertEquals(1, ids.get(0));
        assertEquals(3000, ids.get(2999));
        assertEquals(text("x".repeat(100)), ((Insert) streamed.get(1).message()).row().values().get(1));

        StreamCommit commit = (StreamCommit) c.get(c.messages().size() - 1);
        assertEquals(xid, commit.xid());
        assertEquals(0, commit.flags());
        assertTrue(commit.commitLsn().isAfter(c.lsnBefore()));
        assertTrue(commit.endLsn().isAfter(commit.commitLsn()));
        assertTrue(commit.commitTime().isAfter(CAPTURED_AFTER));
        assertTrue(c.kinds().indexOf("StreamCommit") > c.kinds().lastIndexOf("StreamStop"), "StreamCommit comes outside any block");
    }

    @ParameterizedTest
    @ValueSource(ints = {14, 15, 16})
    void rolledBackSubtransactionIsAbortedByItsOwnXid(int major) {
        CapturedCase c = load(major, "streamed_subxact_abort");
        long xid = c.xid();
        List<StreamAbort> aborts = c.all(StreamAbort.class);
        assertEquals(1, aborts.size());
        StreamAbort abort = aborts.get(0);
        assertEquals(xid, abort.xid());
        assertNotEquals(xid, abort.subXid());
        assertEquals(Optional.empty(), abort.abortLsn(), "only protocol 4 with parallel streaming sends the abort LSN");
        assertEquals(Optional.empty(), abort.abortTime());

        for (Streamed s : c.all(Streamed.class)) {
            if (!(s.message() instanceof Insert insert)) continue;
            int id = Integer.parseInt(((Text) insert.row().values().get(0)).value());
            long expected = id > 5000 && id <= 8000 ? abort.subXid() : xid;
            assertEquals(expected, s.xid(), "xid of streamed row " + id);
        }
        assertTrue(c.all(Streamed.class).stream().anyMatch(s -> s.xid() == abort.subXid()), "rows of the subtransaction were streamed");
        assertEquals(xid, ((StreamCommit) c.get(c.messages().size() - 1)).xid());
    }

    @Test
    void streamAbortCarriesLsnAndTimeWithParallelProtocol4() {
        ByteBuffer bytes = ByteBuffer.allocate(1 + 4 + 4 + 8 + 8)
                .put((byte) 'A').putInt(700).putInt(701).putLong(0x1_0000_0010L).putLong(1_000_000L).flip();
        assertEquals(new StreamAbort(700, 701, Optional.of(Lsn.parse("1/10")), Optional.of(Instant.parse("2000-01-01T00:00:01Z"))),
                new PgOutputDecoder(4, true).decode(bytes, false));
        ByteBuffer shortForm = ByteBuffer.allocate(9).put((byte) 'A').putInt(700).putInt(701).flip();
        assertEquals(new StreamAbort(700, 701, Optional.empty(), Optional.empty()), new PgOutputDecoder(4, false).decode(shortForm, false));
    }

    @Test
    void twoPhaseMessagesFollowTheDocumentedLayout() {
        ByteBuffer beginPrepare = ByteBuffer.allocate(64).put((byte) 'b').putLong(0x100).putLong(0x180).putLong(2_000_000L)
                .putInt(900).put("gid1\0".getBytes(StandardCharsets.UTF_8)).flip();
        assertEquals(new BeginPrepare(new Lsn(0x100), new Lsn(0x180), Instant.parse("2000-01-01T00:00:02Z"), 900, "gid1"),
                new PgOutputDecoder(3, false).decode(beginPrepare, false));
        ByteBuffer rollback = ByteBuffer.allocate(64).put((byte) 'r').put((byte) 0).putLong(0x180).putLong(0x200)
                .putLong(2_000_000L).putLong(3_000_000L).putInt(900).put("gid1\0".getBytes(StandardCharsets.UTF_8)).flip();
        assertEquals(new RollbackPrepared(0, new Lsn(0x180), new Lsn(0x200), Instant.parse("2000-01-01T00:00:02Z"),
                Instant.parse("2000-01-01T00:00:03Z"), 900, "gid1"), new PgOutputDecoder(3, false).decode(rollback, false));
    }

    @Test
    void xidAboveTwoToThe31IsUnsigned() {
        ByteBuffer bytes = ByteBuffer.allocate(21).put((byte) 'B').putLong(0x10).putLong(0).putInt(0xFFFF_FFFE).flip();
        assertEquals(4_294_967_294L, ((Begin) new PgOutputDecoder(1, false).decode(bytes, false)).xid());
    }

    @Test
    void unknownMessageByteIsNamed() {
        ByteBuffer bytes = ByteBuffer.wrap(new byte[] {'Z', 0, 0});
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new PgOutputDecoder(2, false).decode(bytes, false));
        assertTrue(e.getMessage().contains("'Z' (0x5A)"), e.getMessage());
    }

    @Test
    void unknownTupleValueByteIsNamed() {
        ByteBuffer bytes = ByteBuffer.allocate(10).put((byte) 'I').putInt(42).put((byte) 'N').putShort((short) 1).put((byte) 'x').flip();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new PgOutputDecoder(1, false).decode(bytes, false));
        assertTrue(e.getMessage().contains("'x' (0x78)"), e.getMessage());
    }

    @Test
    void truncatedPayloadIsRejectedNamingTheMessage() {
        ByteBuffer bytes = ByteBuffer.allocate(5).put((byte) 'C').putInt(0).flip();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new PgOutputDecoder(1, false).decode(bytes, false));
        assertTrue(e.getMessage().contains("truncated") && e.getMessage().contains("'C'"), e.getMessage());
    }

    @Test
    void decodingLeavesTheCallersBufferAlone() {
        ByteBuffer bytes = ByteBuffer.allocate(1).put((byte) 'E').flip();
        assertEquals(new StreamStop(), new PgOutputDecoder(2, false).decode(bytes, true));
        assertEquals(0, bytes.position());
    }

    /**
     * Text values are decoded straight from the payload's backing array when it has one: the same messages whatever
     * the buffer, including a payload that sits at an offset inside a larger array (as pgjdbc's may), one with no
     * accessible array and one set to little-endian. The captures hold multi-byte UTF-8 names and values and TOASTed text.
     */
    @ParameterizedTest
    @ValueSource(strings = {"insert_update_delete", "replica_identity", "toast", "streamed", "message", "type"})
    void decodesTheSameFromEveryKindOfBuffer(String name) {
        for (int major : new int[] {13, 14, 15, 16}) {
            if (!CapturedCase.exists(major, name)) continue;
            List<CapturedCase.Decoded> readOnly = CapturedCase.load(major, name).messages();
            List<CapturedCase.Decoded> heap = CapturedCase.load(major, name, p -> ByteBuffer.wrap(p.bytes())).messages();
            List<CapturedCase.Decoded> offset = CapturedCase.load(major, name, p -> {
                byte[] larger = new byte[p.bytes().length + 10];
                java.util.Arrays.fill(larger, (byte) 'x');
                System.arraycopy(p.bytes(), 0, larger, 7, p.bytes().length);
                return ByteBuffer.wrap(larger, 7, p.bytes().length).slice();
            }).messages();
            List<CapturedCase.Decoded> direct = CapturedCase.load(major, name, p -> ByteBuffer.allocateDirect(p.bytes().length).put(p.bytes()).flip()).messages();
            // the protocol is big-endian whatever order the caller's buffer is set to
            List<CapturedCase.Decoded> littleEndian = CapturedCase.load(major, name, p -> ByteBuffer.wrap(p.bytes()).order(java.nio.ByteOrder.LITTLE_ENDIAN)).messages();
            assertEquals(readOnly, heap, name + " from PostgreSQL " + major);
            assertEquals(readOnly, offset, name + " from PostgreSQL " + major);
            assertEquals(readOnly, direct, name + " from PostgreSQL " + major);
            assertEquals(readOnly, littleEndian, name + " from PostgreSQL " + major);
        }
    }
}
