package dev.ferry.agent.faults;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A TCP proxy on 127.0.0.1 between ferry and one server, for network faults: {@link #cutFor} closes every connection
 * and refuses new ones (the port is really closed: "Connection refused") for a while; {@link #stallFor} keeps the
 * connections open but forwards nothing either way, so the kernel buffers fill and each side waits, as behind a
 * broken router; {@link #delayEachWay} holds every chunk for a while in each direction, as a distant link does.
 * Threads: one acceptor, two pumps per connection (two more with a delay), one timer; all daemon threads.
 */
public final class TcpProxy implements AutoCloseable {
    private final int serverPort;
    private final int port;
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "proxy-timer"));
    private final Object stallMonitor = new Object();
    private volatile ServerSocket listener;
    private volatile boolean stalled;
    private volatile boolean closed;
    private volatile long connections;
    private volatile long delayNanos;

    public TcpProxy(int serverPort) {
        this.serverPort = serverPort;
        try {
            ServerSocket first = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            this.port = first.getLocalPort();
            listen(first);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The port ferry connects to instead of the server's. */
    public int port() { return port; }

    /** A libpq URI of {@code database} through this proxy. */
    public String uri(String database) { return "postgres://postgres@127.0.0.1:" + port + "/" + database; }

    /** Connections accepted so far: tells a test ferry has come back. */
    public long connections() { return connections; }

    public boolean isOpen() { return listener != null; }

    /** Closes every connection and the listening port; reopens the same port after {@code outage}. Returns at once. */
    public synchronized void cutFor(Duration outage) {
        closeListener();
        closeSockets();
        timer.schedule(this::reopen, outage.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Closes every connection; new ones are accepted at once. */
    public void cutConnections() { closeSockets(); }

    /** Forwards nothing, either way, for {@code stall}; then passes on what was held back. Returns at once. */
    public void stallFor(Duration stall) {
        stalled = true;
        timer.schedule(() -> {
            synchronized (stallMonitor) {
                stalled = false;
                stallMonitor.notifyAll();
            }
        }, stall.toMillis(), TimeUnit.MILLISECONDS);
    }

    public boolean isStalled() { return stalled; }

    /**
     * Delays every chunk {@code latency} in each direction from now on (zero: none), without reordering: each
     * direction of a connection is a queue whose sender forwards a chunk once its time has come, so throughput is not
     * capped the way holding the reading thread would cap it. Connections opened before keep forwarding at once.
     */
    public void delayEachWay(Duration latency) { delayNanos = latency.toNanos(); }

    private synchronized void reopen() {
        if (closed || listener != null) return;
        try {
            ServerSocket again = new ServerSocket();
            again.setReuseAddress(true);
            again.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 50);
            listen(again);
        } catch (IOException e) {
            throw new UncheckedIOException("could not listen on port " + port + " again", e);
        }
    }

    private void listen(ServerSocket socket) {
        listener = socket;
        daemon(() -> accept(socket), "proxy-accept-" + port).start();
    }

    private void accept(ServerSocket socket) {
        while (!socket.isClosed()) {
            Socket client;
            try {
                client = socket.accept();
            } catch (IOException e) {
                if (socket.isClosed()) return;
                throw new UncheckedIOException(e);
            }
            try {
                Socket server = new Socket(InetAddress.getLoopbackAddress(), serverPort);
                client.setTcpNoDelay(true);
                server.setTcpNoDelay(true);
                sockets.add(client);
                sockets.add(server);
                connections++;
                long delay = delayNanos;
                daemon(() -> pump(client, server, delay), "proxy-up-" + port).start();
                daemon(() -> pump(server, client, delay), "proxy-down-" + port).start();
            } catch (IOException e) {
                close(client); // the server is down: the client sees its connection end, as a real server's refusal would
            }
        }
    }

    private void pump(Socket from, Socket to, long delay) {
        if (delay > 0) {
            delayedPump(from, to, delay);
            return;
        }
        byte[] buffer = new byte[64 * 1024];
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            int n;
            while ((n = in.read(buffer)) >= 0) {
                awaitNoStall();
                out.write(buffer, 0, n);
            }
        } catch (IOException | InterruptedException e) {
            // cut, or the other side went away: close both halves as a broken connection would
        } finally {
            close(from);
            close(to);
        }
    }

    /** A chunk read, and when it may be forwarded; an empty chunk ends the direction. */
    private record Chunk(byte[] bytes, long dueNanos) {}

    /** Bounded like a real link's buffers: a reader this far ahead waits for the sender. */
    private static final int CHUNKS_IN_FLIGHT = 1024;

    /** This thread reads and stamps each chunk; a sender thread forwards it when due, in order. */
    private void delayedPump(Socket from, Socket to, long delay) {
        BlockingQueue<Chunk> inFlight = new LinkedBlockingQueue<>(CHUNKS_IN_FLIGHT);
        Thread sender = daemon(() -> send(inFlight, from, to), Thread.currentThread().getName() + "-delayed");
        sender.start();
        byte[] buffer = new byte[64 * 1024];
        try {
            InputStream in = from.getInputStream(); // closed by the sender, after what is in flight: closing it closes the socket
            int n;
            while ((n = in.read(buffer)) >= 0) inFlight.put(new Chunk(Arrays.copyOf(buffer, n), System.nanoTime() + delay));
        } catch (IOException | InterruptedException e) {
            // cut, or the other side went away
        } finally {
            // What was read still arrives, late, unless the connection was cut: then the sender's write fails.
            try {
                inFlight.offer(new Chunk(new byte[0], System.nanoTime() + delay), 1, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void send(BlockingQueue<Chunk> inFlight, Socket from, Socket to) {
        try (OutputStream out = to.getOutputStream()) {
            while (true) {
                Chunk chunk = inFlight.take();
                // The link's latency, not a synchronisation.
                for (long wait; (wait = chunk.dueNanos() - System.nanoTime()) > 0; ) LockSupport.parkNanos(wait);
                if (chunk.bytes().length == 0) break;
                awaitNoStall();
                out.write(chunk.bytes());
            }
        } catch (IOException | InterruptedException e) {
            // cut, or the other side went away
        } finally {
            close(from);
            close(to);
        }
    }

    private void awaitNoStall() throws InterruptedException {
        synchronized (stallMonitor) {
            while (stalled && !closed) stallMonitor.wait(100);
        }
    }

    private synchronized void closeListener() {
        if (listener == null) return;
        close(listener);
        listener = null;
    }

    private void closeSockets() {
        for (Socket socket : Set.copyOf(sockets)) close(socket);
    }

    private void close(Socket socket) {
        sockets.remove(socket);
        try {
            socket.setSoLinger(true, 0); // a reset, as a dropped route ends up
        } catch (SocketException ignored) {
            // already closed
        }
        close((AutoCloseable) socket);
    }

    private static void close(AutoCloseable closeable) {
        try {
            closeable.close();
        } catch (Exception ignored) {
            // closing is all that is wanted
        }
    }

    private static Thread daemon(Runnable r, String name) {
        Thread thread = new Thread(r, name);
        thread.setDaemon(true);
        return thread;
    }

    @Override
    public void close() {
        closed = true;
        timer.shutdownNow();
        closeListener();
        closeSockets();
    }
}
