package dev.ferry.replication.stream;

import dev.ferry.replication.Lsn;
import dev.ferry.replication.pgoutput.PgOutputDecoder;
import dev.ferry.replication.pgoutput.PgOutputMessage;
import dev.ferry.replication.pgoutput.StreamStart;
import dev.ferry.replication.pgoutput.StreamStop;
import dev.ferry.replication.slot.SlotName;
import org.postgresql.PGConnection;
import org.postgresql.replication.LogSequenceNumber;
import org.postgresql.replication.PGReplicationStream;

import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Reads one logical slot through pgjdbc's replication stream and decodes pgoutput messages, reporting to the server
 * only the positions the caller {@linkplain #confirm confirmed}.
 *
 * <p>Single owner: exactly one thread may call all methods. Keepalives are read and answered, and status updates sent
 * every status interval, only while that thread is inside {@link #poll} (or calls {@link #sendStatusNow}); a caller
 * busy for longer than the server's {@code wal_sender_timeout} must poll or send status in between.
 *
 * <p>Every status update (periodic, forced, or the reply pgjdbc sends at once to a keepalive that asks for one)
 * reports write = pgjdbc's last received position, flush = apply = the highest LSN passed to {@link #confirm}
 * (nothing, 0/0, until the first confirm; the server then ignores it). pgjdbc's automatic flush, which would report
 * a keepalive's position as flushed, is switched off.
 */
public final class ChangeStream implements AutoCloseable {
    private static final long MIN_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final long MAX_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(5);

    private final PGReplicationStream stream;
    private final SlotName slot;
    private final PgOutputDecoder decoder;
    private boolean insideStreamBlock;
    private Lsn lastReceived;
    private Lsn confirmed;

    private ChangeStream(PGReplicationStream stream, SlotName slot, PgOutputDecoder decoder, Lsn startLsn) {
        this.stream = stream;
        this.slot = slot;
        this.decoder = decoder;
        this.lastReceived = startLsn;
        this.confirmed = Lsn.ZERO;
    }

    /**
     * Runs START_REPLICATION on a {@link dev.ferry.replication.slot.ReplicationConnection}. The server starts at the
     * later of {@code startLsn} and the slot's confirmed_flush_lsn. The connection stays the caller's: close it after
     * {@link #close()}.
     *
     * @param statusInterval how often standby status updates are sent while polling; must be positive
     */
    public static ChangeStream start(Connection replicationConnection, SlotName slot, Lsn startLsn, StreamOptions options,
                                     Duration statusInterval) throws SQLException {
        if (statusInterval.isNegative() || statusInterval.isZero()) {
            // With 0, pgjdbc would neither send periodic status nor check the socket more than once a second.
            throw new IllegalArgumentException("status interval must be positive, not " + statusInterval);
        }
        var builder = replicationConnection.unwrap(PGConnection.class).getReplicationAPI().replicationStream().logical()
                .withSlotName(slot.value())
                .withStartPosition(LogSequenceNumber.valueOf(startLsn.value()))
                .withStatusInterval(Math.toIntExact(statusInterval.toMillis()), TimeUnit.MILLISECONDS)
                // pgjdbc would otherwise report a keepalive's WAL position as flushed once we confirmed the last
                // message we read; we report only what the caller confirmed.
                .withAutomaticFlush(false)
                .withSlotOption("proto_version", options.protocolVersion())
                .withSlotOption("publication_names", options.publicationNamesOption());
        if (options.streaming()) builder.withSlotOption("streaming", "on");
        if (options.messages()) builder.withSlotOption("messages", "true");
        PGReplicationStream stream = builder.start();
        return new ChangeStream(stream, slot, new PgOutputDecoder(options.protocolVersion(), false), startLsn);
    }

    /**
     * The next message, waiting at most {@code maxWait}; empty when none arrived. While waiting it parks 1 to 5 ms
     * between non-blocking reads (each of which waits up to 1 ms on the socket), so an idle stream costs little CPU.
     *
     * @throws IllegalStateException if a payload cannot be decoded, naming the slot and LSN
     */
    public Optional<WalMessage> poll(Duration maxWait) throws SQLException {
        long deadline = System.nanoTime() + maxWait.toNanos();
        long park = MIN_PARK_NANOS;
        while (true) {
            ByteBuffer payload = stream.readPending();
            // NOTE: for logical replication pgjdbc sets its last received LSN to the start of the XLogData it just
            // returned, and to a keepalive's WAL end when that is higher; it can go backwards, so we keep the max.
            Lsn received = new Lsn(stream.getLastReceiveLSN().asLong());
            lastReceived = Lsn.max(lastReceived, received);
            if (payload != null) {
                byte[] bytes = new byte[payload.remaining()];
                payload.get(payload.position(), bytes); // absolute: the position stays for the decoder
                return Optional.of(new WalMessage(received, decode(payload, received), bytes));
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) return Optional.empty();
            LockSupport.parkNanos(Math.min(park, left));
            park = Math.min(park * 2, MAX_PARK_NANOS);
        }
    }

    private PgOutputMessage decode(ByteBuffer payload, Lsn walStart) {
        PgOutputMessage message;
        try {
            message = decoder.decode(payload, insideStreamBlock);
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("slot " + slot + ": cannot decode pgoutput message at LSN " + walStart + ": " + e.getMessage(), e);
        }
        if (message instanceof StreamStart) insideStreamBlock = true;
        else if (message instanceof StreamStop) insideStreamBlock = false;
        return message;
    }

    /**
     * The highest LSN the server has told us about, from XLogData and keepalives. When the caller has applied every
     * message it polled, nothing the publication covers lies before this position, so confirming it lets the slot
     * advance (and release WAL) while the published tables are quiet.
     */
    public Lsn lastReceivedLsn() { return lastReceived; }

    /** The highest LSN passed to {@link #confirm}, or 0/0. */
    public Lsn confirmedLsn() { return confirmed; }

    /**
     * Marks everything up to {@code lsn} as durably applied: it is reported as flush and apply position in the next
     * status update, which lets the server advance the slot's confirmed_flush_lsn and release WAL. A lower LSN than
     * already confirmed is ignored. Confirm a Commit's {@code endLsn} once its transaction is applied.
     */
    public void confirm(Lsn lsn) {
        if (!lsn.isAfter(confirmed)) return;
        confirmed = lsn;
        LogSequenceNumber position = LogSequenceNumber.valueOf(lsn.value());
        stream.setFlushedLSN(position);
        stream.setAppliedLSN(position);
    }

    /** Sends a standby status update now: write = last received, flush = apply = last confirmed. */
    public void sendStatusNow() throws SQLException {
        stream.forceUpdateStatus();
    }

    /** Ends the replication stream (CopyDone); the connection stays open and idle for the caller to close or reuse. */
    @Override
    public void close() throws SQLException {
        if (!stream.isClosed()) stream.close();
    }
}
