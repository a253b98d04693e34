package dev.ferry.replication.slot;

import dev.ferry.replication.Lsn;

/**
 * A freshly created logical slot. Changes committed after {@code consistentPoint} are streamed from it; the exported
 * {@code snapshotName} sees exactly the data committed before that point, for as long as the creating replication
 * connection stays open and runs no other command.
 */
public record CreatedSlot(SlotName name, Lsn consistentPoint, String snapshotName) {}
