package dev.ferry.replication.slot;

import dev.ferry.replication.Lsn;

import java.util.Optional;

/**
 * One row of {@code pg_replication_slots}. {@code walStatus} is reserved, extended, unreserved or lost; a lost slot
 * can no longer stream.
 */
public record SlotState(SlotName name, String plugin, String database, boolean active, Optional<Lsn> restartLsn,
                        Optional<Lsn> confirmedFlushLsn, Optional<String> walStatus) {}
