package dev.ferry.agent.db;

import javax.crypto.SecretKey;
import javax.crypto.SecretKeyFactory;
import javax.crypto.SecretKeyFactorySpi;
import javax.crypto.spec.PBEKeySpec;
import javax.crypto.spec.SecretKeySpec;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.Provider;
import java.security.Security;
import java.security.spec.InvalidKeySpecException;
import java.security.spec.KeySpec;
import java.util.Arrays;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Derives each scram-sha-256 salted password once per run instead of at every login. The client's half of a scram
 * login is 4,096 rounds of HMAC-SHA-256 over the password and the role's salt (PBKDF2); for one role on one server
 * the salt and the rounds never change, so neither does the result. A migration logs in a dozen times, mostly
 * before its first COPY, and every repeat cost 10 to 20 ms of one core plus the JIT compiling the hashing code.
 * <p>
 * pgjdbc (through its scram library) asks the JCA for {@code PBKDF2WithHmacSHA256}; this provider, put first,
 * answers that one request from memory and hands everything else to the JDK's own implementation. What it keeps is
 * worth as much as the password ferry already holds for the whole run, and it never leaves the process.
 */
public final class ScramKeyCache extends Provider {
    private static final String NAME = "FerryScramKeyCache";
    private static final String ALGORITHM = "PBKDF2WithHmacSHA256";
    private static final String JDK_PROVIDER = "SunJCE";
    /** A run talks to two servers, perhaps as two roles each; more than this means something is odd, not busy. */
    private static final int MAX_ENTRIES = 64;
    private static final Map<String, byte[]> derived = new ConcurrentHashMap<>();

    private ScramKeyCache() {
        super(NAME, "1.0", "remembers PBKDF2WithHmacSHA256 results for scram logins");
        putService(new Service(this, "SecretKeyFactory", ALGORITHM, CachingFactory.class.getName(), null, null));
    }

    /** Puts the cache in front of the JDK's PBKDF2; does nothing where the JDK has none to delegate to. */
    public static synchronized void install() {
        if (Security.getProvider(NAME) != null) return;
        try {
            SecretKeyFactory.getInstance(ALGORITHM, JDK_PROVIDER);
        } catch (GeneralSecurityException e) {
            return;
        }
        Security.insertProviderAt(new ScramKeyCache(), 1);
    }

    /** How many derivations are remembered; for tests. */
    static int entries() {
        return derived.size();
    }

    /** Looked up by the JCA through {@link Provider.Service}, hence public with a public constructor. */
    public static final class CachingFactory extends SecretKeyFactorySpi {
        private final SecretKeyFactory jdk;

        public CachingFactory() throws NoSuchAlgorithmException {
            try {
                jdk = SecretKeyFactory.getInstance(ALGORITHM, JDK_PROVIDER);
            } catch (java.security.NoSuchProviderException e) {
                throw new NoSuchAlgorithmException(ALGORITHM + " needs the " + JDK_PROVIDER + " provider", e);
            }
        }

        @Override
        protected SecretKey engineGenerateSecret(KeySpec spec) throws InvalidKeySpecException {
            if (!(spec instanceof PBEKeySpec pbe) || pbe.getSalt() == null) return jdk.generateSecret(spec);
            String inputs = fingerprint(pbe);
            byte[] key = derived.get(inputs);
            if (key == null) {
                key = jdk.generateSecret(spec).getEncoded();
                if (derived.size() >= MAX_ENTRIES) derived.clear();
                derived.put(inputs, key);
            }
            return new SecretKeySpec(key, ALGORITHM);
        }

        @Override
        protected KeySpec engineGetKeySpec(SecretKey key, Class<?> keySpec) throws InvalidKeySpecException {
            return jdk.getKeySpec(key, keySpec);
        }

        @Override
        protected SecretKey engineTranslateKey(SecretKey key) throws InvalidKeyException {
            return jdk.translateKey(key);
        }
    }

    /** A digest of everything the derivation depends on, so the map never holds a password. */
    private static String fingerprint(PBEKeySpec spec) {
        char[] password = spec.getPassword();
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            ByteBuffer utf8 = StandardCharsets.UTF_8.encode(CharBuffer.wrap(password));
            digest.update(utf8);
            if (utf8.hasArray()) Arrays.fill(utf8.array(), (byte) 0);
            digest.update((byte) 0);
            digest.update(spec.getSalt());
            digest.update(ByteBuffer.allocate(8).putInt(spec.getIterationCount()).putInt(spec.getKeyLength()).array());
            return Base64.getEncoder().encodeToString(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        } finally {
            Arrays.fill(password, '\0');
        }
    }
}
