package dev.ferry.agent.stream;

import dev.ferry.replication.Lsn;
import dev.ferry.replication.stream.ChangeStream;
import dev.ferry.replication.stream.WalMessage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The thread {@code ferry-stream-reader}: the only user of the {@link ChangeStream}. It keeps reading so the server
 * never waits on ferry while the apply thread writes to the target, answers keepalives, and reports the position the
 * apply thread has confirmed.
 */
final class StreamReader implements Runnable {
    private static final Logger log = LoggerFactory.getLogger("ferry.stream");
    private static final Duration POLL = Duration.ofMillis(50);
    /** Well under any wal_sender_timeout: at 5 s, a source with wal_sender_timeout = 5s dropped a busy stream (under latency). */
    private static final Duration BUSY_STATUS_EVERY = Duration.ofSeconds(1);
    private static final int BATCH_MESSAGES = 1024;
    private static final long BATCH_BYTES = 1024 * 1024;

    private final ChangeStream stream;
    private final ReceiveQueue queue;
    private final AtomicReference<Lsn> confirmed;
    private volatile boolean stopped;
    private volatile boolean statusRequested;

    StreamReader(ChangeStream stream, ReceiveQueue queue, Lsn start) {
        this.stream = stream;
        this.queue = queue;
        this.confirmed = new AtomicReference<>(start);
    }

    /** Called by the apply thread: everything up to {@code lsn} is committed on the target. */
    void confirm(Lsn lsn) {
        confirmed.accumulateAndGet(lsn, Lsn::max);
    }

    /** Called by the apply thread: send a status update to the server now rather than at the next interval. */
    void requestStatus() {
        statusRequested = true;
    }

    void stop() {
        stopped = true;
    }

    /**
     * Queues an item; while the apply thread is too busy to take it, keeps telling the server ferry is alive, so a
     * long target write does not trip wal_sender_timeout.
     */
    private void hand(Received item) throws InterruptedException, java.sql.SQLException {
        while (!queue.offer(item, BUSY_STATUS_EVERY)) {
            if (stopped) return;
            stream.sendStatusNow();
        }
    }

    @Override
    public void run() {
        Lsn lastIdle = Lsn.ZERO;
        Lsn reported = Lsn.ZERO;
        List<WalMessage> batch = new ArrayList<>();
        long batchBytes = 0;
        try {
            while (!stopped) {
                Lsn toConfirm = confirmed.get();
                if (toConfirm.isAfter(reported)) {
                    stream.confirm(toConfirm);
                    reported = toConfirm;
                }
                if (statusRequested) {
                    statusRequested = false;
                    stream.sendStatusNow();
                }
                // Wait only when nothing is gathered; otherwise hand over what arrived as soon as the socket is quiet.
                Optional<WalMessage> message = stream.poll(batch.isEmpty() ? POLL : Duration.ZERO);
                if (message.isPresent()) {
                    if (log.isTraceEnabled()) log.trace("<- {} at {}", message.get().message(), message.get().walStart());
                    batch.add(message.get());
                    batchBytes += message.get().payload().length;
                    if (batch.size() >= BATCH_MESSAGES || batchBytes >= BATCH_BYTES) {
                        hand(new Received.Messages(batch, batchBytes));
                        batch = new ArrayList<>();
                        batchBytes = 0;
                    }
                } else if (!batch.isEmpty()) {
                    hand(new Received.Messages(batch, batchBytes));
                    batch = new ArrayList<>();
                    batchBytes = 0;
                } else {
                    Lsn position = stream.lastReceivedLsn();
                    if (position.isAfter(lastIdle)) {
                        hand(new Received.Idle(position));
                        lastIdle = position;
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            try {
                queue.put(new Received.Failed(e));
            } catch (InterruptedException interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
