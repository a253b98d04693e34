package dev.ferry.replication.slot;

import dev.ferry.replication.Lsn;

import java.util.Optional;

/** A row of pg_replication_slots. {@code walStatus}: reserved, extended, unreserved or lost. */
public record SlotState(SlotName name, String plugin, String database, boolean active, Optional<Lsn> restartLsn,
                        Optional<Lsn> confirmedFlushLsn, Optional<String> walStatus) {}
