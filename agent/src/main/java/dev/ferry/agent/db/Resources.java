package dev.ferry.agent.db;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Closes what is being given up anyway (a connection whose session is gone, a stream being torn down after a failure),
 * where a second failure would only hide the first one: it goes to the log at DEBUG instead.
 */
public final class Resources {
    private static final Logger log = LoggerFactory.getLogger("ferry");

    private Resources() {}

    /** @param what names the resource in the DEBUG line ("an index build connection") */
    public static void closeQuietly(AutoCloseable resource, String what) {
        try {
            resource.close();
        } catch (Exception e) {
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
            log.debug("closing {} failed", what, e);
        }
    }
}
