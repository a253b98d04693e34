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
import org.postgresql.replication.fluent.logical.ChainedLogicalStreamBuilder;

import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Reads one logical slot with pgoutput and reports progress back. Only LSNs passed to {@link #confirm} are ever
 * reported as flushed, so the server keeps everything not yet durably applied. Keepalives that ask for a reply are
 * answered while polling. Single owner: one thread calls every method.
 */
public final class ChangeStream implements AutoCloseable {
    private static final long MAX_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(5);

    private final PGReplicationStream stream;
    private final PgOutputDecoder decoder;
    private boolean insideStreamBlock;

    private ChangeStream(PGReplicationStream stream, PgOutputDecoder decoder) {
        this.stream = stream;
        this.decoder = decoder;
    }

    /** START_REPLICATION on {@code replicationConnection} from {@code startLsn} (the server starts at the slot's confirmed position if later). */
    public static ChangeStream start(Connection replicationConnection, SlotName slot, Lsn startLsn, StreamOptions options,
                                     Duration statusInterval) throws SQLException {
        ChainedLogicalStreamBuilder builder = replicationConnection.unwrap(PGConnection.class).getReplicationAPI()
                .replicationStream().logical()
                .withSlotName(slot.value())
                .withStartPosition(LogSequenceNumber.valueOf(startLsn.value()))
                .withSlotOption("proto_version", String.valueOf(options.protocolVersion()))
                .withSlotOption("publication_names", options.publicationNames())
                .withStatusInterval((int) statusInterval.toMillis(), TimeUnit.MILLISECONDS);
        if (options.streaming()) builder = builder.withSlotOption("streaming", "on");
        if (options.messages()) builder = builder.withSlotOption("messages", "true");
        PGReplicationStream stream = builder.start();
        // Confirm the start position itself: everything before it is done by definition.
        stream.setFlushedLSN(LogSequenceNumber.valueOf(startLsn.value()));
        stream.setAppliedLSN(LogSequenceNumber.valueOf(startLsn.value()));
        return new ChangeStream(stream, new PgOutputDecoder(options.protocolVersion(), false));
    }

    /** The next message, waiting at most {@code maxWait}; empty when none arrived in time. */
    public Optional<WalMessage> poll(Duration maxWait) throws SQLException {
        long deadline = System.nanoTime() + maxWait.toNanos();
        long park = TimeUnit.MICROSECONDS.toNanos(100);
        while (true) {
            ByteBuffer buffer = stream.readPending();
            if (buffer != null) return Optional.of(decode(buffer));
            long left = deadline - System.nanoTime();
            if (left <= 0) return Optional.empty();
            LockSupport.parkNanos(Math.min(left, park));
            park = Math.min(MAX_PARK_NANOS, park * 2);
        }
    }

    private WalMessage decode(ByteBuffer buffer) {
        byte[] payload = new byte[buffer.remaining()];
        buffer.duplicate().get(payload);
        PgOutputMessage message = decoder.decode(ByteBuffer.wrap(payload), insideStreamBlock);
        if (message instanceof StreamStart) insideStreamBlock = true;
        else if (message instanceof StreamStop) insideStreamBlock = false;
        return new WalMessage(new Lsn(stream.getLastReceiveLSN().asLong()), message, payload);
    }

    /** Highest position the server has reported, keepalives included (it may step back to a message's own start). */
    public Lsn lastReceivedLsn() {
        return new Lsn(stream.getLastReceiveLSN().asLong());
    }

    /** Everything up to {@code lsn} is durably applied; reported as flush and apply position from the next status update. */
    public void confirm(Lsn lsn) {
        LogSequenceNumber position = LogSequenceNumber.valueOf(lsn.value());
        stream.setFlushedLSN(position);
        stream.setAppliedLSN(position);
    }

    public void sendStatusNow() throws SQLException {
        stream.forceUpdateStatus();
    }

    @Override
    public void close() throws SQLException {
        if (!stream.isClosed()) stream.close();
    }
}
