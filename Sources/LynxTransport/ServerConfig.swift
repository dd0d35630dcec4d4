/// Listening and connection-handling settings of the HTTP front end.
public struct ServerConfig: Sendable {
    public var host: String = "127.0.0.1"
    /// 0 asks the kernel for an ephemeral port; `MicroHTTPDServer.port` tells which.
    public var port: UInt16 = 7311
    /// Worker threads of libmicrohttpd's pool (each runs its own epoll loop).
    public var threads: Int = 2
    public var maxConnections: Int = 1024
    /// Open connections from one client address at most (libmicrohttpd refuses more).
    public var maxConnectionsPerIP: Int = 256
    /// Idle/stalled connections (no bytes either way) are closed after this many seconds.
    public var connectionTimeoutSeconds: Int = 30
    /// A whole request (headers and body) must arrive within this many seconds of the connection being
    /// accepted or of its previous response (`ConnectionTracker`).
    public var requestTimeoutSeconds: Double = 30
    public var maxBodyBytes: Int = 64 << 20
    /// Ceiling on the sum of request bodies held in memory (`BodyMemory`).
    public var maxBodyMemory: Int = 1 << 30
    /// Serve HTTPS with these; nil serves plain HTTP.
    public var tls: TLSCredentials? = nil

    public init() {}
}
