package dev.ferry.agent.stream;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Optional;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The hand-off between the stream reader and the apply thread, bounded by bytes as well as count so that a run of
 * huge rows cannot fill the heap: the reader waits when it is full, and the server then waits on the socket.
 */
final class ReceiveQueue {
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition notEmpty = lock.newCondition();
    private final Condition notFull = lock.newCondition();
    private final ArrayDeque<Received> items = new ArrayDeque<>();
    private final int maxItems;
    private final long maxBytes;
    private long bytes;

    ReceiveQueue(int maxItems, long maxBytes) {
        this.maxItems = maxItems;
        this.maxBytes = maxBytes;
    }

    /** Blocks while full; a single item larger than the byte budget is still accepted once the queue is empty. */
    void put(Received item) throws InterruptedException {
        while (!offer(item, Duration.ofDays(1))) {
            // keep waiting
        }
    }

    /** Like {@link #put}, giving up after {@code maxWait}; returns whether the item was queued. */
    boolean offer(Received item, Duration maxWait) throws InterruptedException {
        long size = size(item);
        long nanos = maxWait.toNanos();
        lock.lockInterruptibly();
        try {
            while (!items.isEmpty() && (items.size() >= maxItems || bytes + size > maxBytes)) {
                if (nanos <= 0) return false;
                nanos = notFull.awaitNanos(nanos);
            }
            items.addLast(item);
            bytes += size;
            notEmpty.signal();
            return true;
        } finally {
            lock.unlock();
        }
    }

    Optional<Received> poll(Duration maxWait) throws InterruptedException {
        long nanos = maxWait.toNanos();
        lock.lockInterruptibly();
        try {
            while (items.isEmpty()) {
                if (nanos <= 0) return Optional.empty();
                nanos = notEmpty.awaitNanos(nanos);
            }
            Received item = items.removeFirst();
            bytes -= size(item);
            notFull.signal();
            return Optional.of(item);
        } finally {
            lock.unlock();
        }
    }

    boolean isEmpty() {
        lock.lock();
        try {
            return items.isEmpty();
        } finally {
            lock.unlock();
        }
    }

    private static long size(Received item) {
        // Decoded messages hold their values as Java strings and objects: count them at about four times their wire size.
        return item instanceof Received.Messages m ? 4 * m.bytes() + 128L * m.wals().size() : 64L;
    }
}
