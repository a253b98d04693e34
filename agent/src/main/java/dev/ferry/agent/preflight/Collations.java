package dev.ferry.agent.preflight;

import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.name.QualifiedName;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

import static dev.ferry.agent.preflight.CheckFamily.fail;
import static dev.ferry.agent.preflight.CheckFamily.pass;
import static dev.ferry.agent.preflight.PreflightContext.value;

/**
 * Whether the target can provide every collation the source's schema uses or defines. A collation of the source's
 * own schemas is created by the schema copy (pg_dump dumps each one, used or not), so the target needs only what it
 * is made from: ICU, the builtin provider, or the libc locale. One of pg_catalog (imported by initdb), or any
 * collation under --schema existing, must already be on the target by name.
 */
final class Collations implements CheckFamily {
    private static final String USER_SCHEMA = "n.nspname NOT IN ('pg_catalog', 'information_schema', 'ferry') AND n.nspname !~ '^pg_(toast|temp_)'";

    /** Collations of columns (tables, views, composite types), domains and indexes in user schemas, and every collation defined there. */
    private static final String USED = """
            WITH used AS (
                SELECT a.attcollation AS oid FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE a.attnum > 0 AND NOT a.attisdropped AND %1$s
                UNION SELECT t.typcollation FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.typtype = 'd' AND %1$s
                UNION SELECT unnest(i.indcollation::oid[]) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                      JOIN pg_namespace n ON n.oid = c.relnamespace WHERE %1$s
                UNION SELECT co.oid FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace WHERE %1$s)
            SELECT n.nspname, co.collname, co.collprovider, %2$s, co.collctype
            FROM used JOIN pg_collation co ON co.oid = used.oid JOIN pg_namespace n ON n.oid = co.collnamespace
            WHERE co.collname <> 'default'
            ORDER BY 1, 2""";

    /** A collation as the source defines it; {@code locale} is the ICU or builtin locale, or libc's LC_COLLATE. */
    private record Collation(QualifiedName name, char provider, String locale, String ctype) {
        boolean system() { return name.schema().equals("pg_catalog"); }

        String describe() {
            return name + " (" + switch (provider) {
                case 'i' -> "ICU, locale '" + locale + "'";
                case 'b' -> "builtin provider, locale '" + locale + "'";
                case 'c' -> "libc, locale '" + locale + "'" + (ctype != null && !ctype.equals(locale) ? ", ctype '" + ctype + "'" : "");
                default -> "provider " + provider;
            } + ")";
        }
    }

    @Override
    public List<CheckResult> run(PreflightContext c) throws SQLException {
        List<Collation> used = used(c.source, c.sourceMajor);
        boolean existing = c.config.schemaMode() == MigrationConfig.SchemaMode.EXISTING;
        Target target = new Target(c.target, c.targetMajor);
        List<String> problems = new ArrayList<>();
        List<String> fixes = new ArrayList<>();
        List<String> created = new ArrayList<>();
        for (Collation collation : used) {
            if (existing || collation.system()) {
                if (target.has(collation.name())) continue;
                problems.add(collation.describe() + " is missing on the target");
                fixes.add(existing
                        ? "create it on the target as on the source: CREATE COLLATION " + collation.name() + " (...);"
                        : "it is one the source's initdb imported from its " + (collation.provider() == 'i' ? "ICU" : "operating system's locales")
                        + "; install that locale on the target's host and run SELECT pg_import_system_collations('pg_catalog'); there, or use another collation on the source");
                continue;
            }
            String missing = target.cannotCreate(collation);
            if (missing == null) {
                created.add(collation.describe());
            } else {
                problems.add(collation.describe() + ": " + missing);
                fixes.add(collation.provider() == 'c'
                        ? "install locale '" + collation.locale() + "' on the target's host (e.g. locale-gen), then run SELECT pg_import_system_collations('pg_catalog'); on the target."
                                + " If `locale -a` on the target's host lists it already, accept with --accept-risk collations"
                        : collation.provider() == 'i' ? "use a PostgreSQL build with ICU on the target (--with-icu; every PostgreSQL 16+ package has it)"
                        : "migrate to PostgreSQL 17 or newer, or change " + collation.name() + " to an ICU or libc collation on the source");
            }
        }
        if (!problems.isEmpty()) {
            return List.of(fail("collations", "the target cannot provide collations the source uses or defines: " + String.join("; ", problems),
                    "the schema restore would stop at the first collation, column or index that needs them.", String.join("\n", fixes)));
        }
        String summary = used.isEmpty() ? "the source uses no collation besides the database default, \"C\" and \"POSIX\""
                : used.size() + " collations the source uses or defines are available on the target"
                + (created.isEmpty() ? "" : "; the schema copy creates " + String.join(", ", created) + ", which the target can provide");
        return List.of(pass("collations", summary));
    }

    private static List<Collation> used(Connection source, int major) throws SQLException {
        // Where a collation's locale lives moved: collcollate up to 14, colliculocale for ICU in 15 and 16, colllocale from 17.
        String locale = major >= 17 ? "CASE WHEN co.collprovider IN ('i', 'b') THEN co.colllocale ELSE co.collcollate END"
                : major >= 15 ? "CASE WHEN co.collprovider = 'i' THEN co.colliculocale ELSE co.collcollate END"
                : "co.collcollate";
        List<Collation> used = new ArrayList<>();
        try (Statement s = source.createStatement(); ResultSet rs = s.executeQuery(String.format(USED, USER_SCHEMA, locale))) {
            while (rs.next()) {
                QualifiedName name = new QualifiedName(rs.getString(1), rs.getString(2));
                if (name.schema().equals("pg_catalog") && (name.name().equals("C") || name.name().equals("POSIX"))) continue;
                used.add(new Collation(name, rs.getString(3).charAt(0), rs.getString(4), rs.getString(5)));
            }
        }
        return used;
    }

    /** What the target offers, read once. */
    private static final class Target {
        private final Connection connection;
        private final int major;
        private final boolean icu;
        private final Set<String> libcLocales = new HashSet<>();

        Target(Connection connection, int major) throws SQLException {
            this.connection = connection;
            this.major = major;
            // initdb imports an ICU collation for every ICU locale ("und-x-icu" at least) when the server has ICU.
            this.icu = value(connection, "SELECT 1 FROM pg_collation WHERE collprovider = 'i' LIMIT 1").isPresent();
            try (Statement s = connection.createStatement();
                 ResultSet rs = s.executeQuery("SELECT collcollate, collctype FROM pg_collation WHERE collprovider = 'c'"
                         + " UNION ALL SELECT datcollate, datctype FROM pg_database WHERE datname = current_database()")) {
                while (rs.next()) {
                    if (rs.getString(1) != null) libcLocales.add(normalized(rs.getString(1)));
                    if (rs.getString(2) != null) libcLocales.add(normalized(rs.getString(2)));
                }
            }
            libcLocales.add("C");
            libcLocales.add("POSIX");
        }

        boolean has(QualifiedName collation) throws SQLException {
            return value(connection, "SELECT 1 FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace WHERE n.nspname = ? AND co.collname = ?",
                    collation.schema(), collation.name()).isPresent();
        }

        /** Why the target could not run the schema copy's CREATE COLLATION, or null if it can. */
        String cannotCreate(Collation collation) {
            return switch (collation.provider()) {
                case 'i' -> icu ? null : "the target's PostgreSQL is built without ICU (it has no ICU collation at all)";
                case 'b' -> major >= 17 ? null : "the builtin collation provider exists from PostgreSQL 17, the target runs " + major;
                case 'c' -> {
                    List<String> absent = new ArrayList<>();
                    if (!libcLocales.contains(normalized(collation.locale()))) absent.add(collation.locale());
                    if (collation.ctype() != null && !collation.ctype().equals(collation.locale()) && !libcLocales.contains(normalized(collation.ctype()))) {
                        absent.add(collation.ctype());
                    }
                    yield absent.isEmpty() ? null : "the target's operating system does not offer locale " + String.join(" and ", absent)
                            + " (no libc collation of it in the target's pg_collation)";
                }
                default -> null;
            };
        }
    }

    /** glibc's spelling of a locale name: the codeset lower-case without punctuation ("sv_SE.UTF-8" is "sv_SE.utf8"). */
    static String normalized(String locale) {
        int dot = locale.indexOf('.');
        if (dot < 0) return locale;
        int at = locale.indexOf('@', dot);
        String codeset = (at < 0 ? locale.substring(dot + 1) : locale.substring(dot + 1, at)).toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]", "");
        return locale.substring(0, dot) + "." + codeset + (at < 0 ? "" : locale.substring(at));
    }
}
