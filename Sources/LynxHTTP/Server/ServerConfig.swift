/// Listening and connection-handling settings of the HTTP front end.
public struct ServerConfig: Sendable {
    public var host: String = "127.0.0.1"
    /// 0 asks the kernel for an ephemeral port; `MicroHTTPDServer.port` tells which.
    public var port: UInt16 = 7311
    /// Worker threads of libmicrohttpd's pool (each runs its own epoll loop).
    public var threads: Int = 2
    public var maxConnections: Int = 1024
    /// Idle/slow connections are closed after this many seconds (also cuts slow-loris bodies).
    public var connectionTimeoutSeconds: Int = 30
    public var maxBodyBytes: Int = 64 << 20

    public init() {}
}
