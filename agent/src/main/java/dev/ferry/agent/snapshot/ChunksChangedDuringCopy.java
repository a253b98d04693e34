package dev.ferry.agent.snapshot;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;

/**
 * A hypertable unit was refused because TimescaleDB changed its chunks on the source after the copy's snapshot
 * ({@link ChunkRewrites}). Nothing of the unit is on the target, and a resumed migration copies the hypertable again
 * in a new snapshot, so the run may go on by itself as a restarted agent would.
 */
public final class ChunksChangedDuringCopy extends FerryException {
    ChunksChangedDuringCopy(String what, String why, String fix) {
        super(what, why, fix, ExitCode.INTERRUPTED, null);
    }
}
