package dev.ferry.agent.db;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;

/** The pool of target connections a `ferry run` shares between its copy workers, index builds, phase changes and the stream. */
public final class TargetPool {
    private TargetPool() {}

    /**
     * A pool of up to {@code jobs + 5} connections: one per copy worker, and a few for the phase changes around them
     * (the stream holds three: its state, its applier and the one applying a big transaction while it streams).
     */
    public static HikariDataSource open(Database target, int jobs) {
        HikariConfig hikari = new HikariConfig();
        hikari.setPoolName("ferry-target");
        hikari.setJdbcUrl(target.spec().jdbcUrl());
        hikari.setDataSourceProperties(target.properties());
        hikari.setMaximumPoolSize(jobs + 5);
        hikari.setMinimumIdle(0);
        // ferry has logged in to the target already and explained any failure; Hikari's start-up check would only
        // add a login of its own, closed again at once.
        hikari.setInitializationFailTimeout(-1);
        hikari.setConnectionTimeout(30_000);
        return new HikariDataSource(hikari);
    }
}
