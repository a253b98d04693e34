package dev.ferry.agent.apply;

import java.util.Arrays;

/**
 * Row keys and an int for each (where the key's latest row sits in a queue), for {@link TargetWriter}, which asks once
 * per queued change: an open-addressing table, so neither a map entry nor a boxed position is made per change.
 * Emptied between flushes at the cost of the keys it held, keeping its capacity. Owned by the apply thread.
 */
final class KeyPositions {
    private static final int ABSENT = -1;

    private String[] keys = new String[16];
    private int[] positions = new int[16];
    /** The slots in use, so that emptying touches only those. */
    private int[] used = new int[8];
    private int size;

    /** The position recorded for {@code key}, or -1. */
    int get(String key) {
        int slot = slot(keys, key);
        return keys[slot] == null ? ABSENT : positions[slot];
    }

    /** Records {@code position} for {@code key}, replacing what was recorded. */
    void put(String key, int position) {
        int slot = slot(keys, key);
        if (keys[slot] == null) insert(slot, key, position);
        else positions[slot] = position;
    }

    /** Records {@code position} for {@code key} unless the key is there already; returns whether it was not. */
    boolean add(String key, int position) {
        int slot = slot(keys, key);
        if (keys[slot] != null) return false;
        insert(slot, key, position);
        return true;
    }

    void clear() {
        for (int i = 0; i < size; i++) keys[used[i]] = null;
        size = 0;
    }

    private void insert(int slot, String key, int position) {
        keys[slot] = key;
        positions[slot] = position;
        if (size == used.length) used = Arrays.copyOf(used, size * 2);
        used[size++] = slot;
        if (size * 2 > keys.length) grow();
    }

    private void grow() {
        String[] oldKeys = keys;
        int[] oldPositions = positions;
        keys = new String[oldKeys.length * 2];
        positions = new int[oldKeys.length * 2];
        for (int i = 0; i < size; i++) {
            int from = used[i];
            int to = slot(keys, oldKeys[from]);
            keys[to] = oldKeys[from];
            positions[to] = oldPositions[from];
            used[i] = to;
        }
    }

    /** The slot holding {@code key}, or the empty one where it would go (linear probing; the table is at most half full). */
    private static int slot(String[] table, String key) {
        int mask = table.length - 1;
        int h = key.hashCode();
        int slot = (h ^ (h >>> 16)) & mask;
        while (table[slot] != null && !table[slot].equals(key)) slot = (slot + 1) & mask;
        return slot;
    }
}
