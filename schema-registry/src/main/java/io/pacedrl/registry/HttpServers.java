package io.pacedrl.registry;

import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;

/** The JDK's HTTP server as this project's servers (the registry, the difficulty queries) run it. */
public final class HttpServers {
    static {
        // The JDK server writes a response's headers and body apart; with Nagle's algorithm on, the body
        // waits for the client's delayed ACK of the headers: 45 ms per request on a kept-alive connection
        // (measured with the JDK client), so a consumer looking up one unknown schema id per bad record
        // stalled. Read once, when the JDK's server configuration first loads in the JVM.
        System.setProperty("sun.net.httpserver.nodelay", "true");
    }

    private HttpServers() {}

    /** A server bound to {@code address}, not started, that sends each response without waiting for an ACK. */
    public static HttpServer create(InetSocketAddress address, int backlog) throws IOException {
        return HttpServer.create(address, backlog);
    }

    /** The same over TLS, with the server's key and certificate from {@code tls}. */
    public static HttpsServer createHttps(InetSocketAddress address, int backlog, SSLContext tls) throws IOException {
        HttpsServer server = HttpsServer.create(address, backlog);
        server.setHttpsConfigurator(new HttpsConfigurator(tls));
        return server;
    }

    /** A TLS context serving the key and certificate of a PKCS12 key store; fails naming the file. */
    public static SSLContext serverTls(Path keyStore, String password) {
        try (InputStream in = Files.newInputStream(keyStore)) {
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(in, password.toCharArray());
            KeyManagerFactory keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            keys.init(store, password.toCharArray());
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(keys.getKeyManagers(), null, null);
            return context;
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalArgumentException("cannot serve TLS with the key store " + keyStore + ": " + e.getMessage(), e);
        }
    }
}
