package dev.ferry.replication.slot;

import dev.ferry.replication.Lsn;

/**
 * A slot just created, with the snapshot it exported: the snapshot sees exactly the transactions committed before
 * {@code consistentPoint}, and stays importable only while the creating connection stays open and idle.
 */
public record CreatedSlot(SlotName name, Lsn consistentPoint, String snapshotName) {}
