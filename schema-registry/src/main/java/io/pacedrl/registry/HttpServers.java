package io.pacedrl.registry;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;

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
}
