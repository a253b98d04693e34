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
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A TCP proxy on 127.0.0.1 between ferry and one server, for network faults: {@link #cutFor} closes every connection
 * and refuses new ones (the port is really closed: "Connection refused") for a while; {@link #stallFor} keeps the
 * connections open but forwards nothing either way, so the kernel buffers fill and each side waits, as behind a
 * broken router. Threads: one acceptor, two pumps per connection, one timer; all daemon threads.
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
                daemon(() -> pump(client, server), "proxy-up-" + port).start();
                daemon(() -> pump(server, client), "proxy-down-" + port).start();
            } catch (IOException e) {
                close(client); // the server is down: the client sees its connection end, as a real server's refusal would
            }
        }
    }

    private void pump(Socket from, Socket to) {
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
