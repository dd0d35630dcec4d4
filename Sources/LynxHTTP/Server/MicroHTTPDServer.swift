#if canImport(Glibc)
import Glibc
#endif
import CMicroHTTPD
import Synchronization

/// Errors raised while starting the HTTP front end.
public enum ServerError: Error, CustomStringConvertible {
    case badHost(String)
    case startFailed(host: String, port: UInt16, errno: Int32)

    public var description: String {
        switch self {
        case .badHost(let host):
            return "cannot listen on '\(host)': not a numeric IPv4 or IPv6 address"
        case .startFailed(let host, let port, let code):
            return "cannot listen on \(host):\(port): \(String(cString: strerror(code)))"
        }
    }
}

/// The libmicrohttpd daemon, driven from Swift.
///
/// Mode: an internal thread pool (`threads` workers, each with its own epoll loop), suspend/resume allowed
/// (so a request that waits for fsync holds no thread). The handler is called on the pool's threads,
/// concurrently; it must be thread-safe.
///
/// libmicrohttpd calls the access handler several times per request: once when the headers are in, once per
/// body chunk, and a last time with no data. We answer on the last call (answering on the first makes MHD
/// close the connection after the response, which kills keep-alive), except for the early 413 decided from
/// `Content-Length`, which must not read the body at all.
public final class MicroHTTPDServer: @unchecked Sendable {
    private let config: ServerConfig
    private let handler: HTTPHandler
    private var daemon: OpaquePointer?
    private var listenFD: Int32 = -1
    /// Set while draining: every response then carries `Connection: close`.
    private let draining = Atomic<Bool>(false)
    /// Requests begun and not yet completed (including suspended ones waiting for fsync).
    private let inFlight = Atomic<Int>(0)

    public init(config: ServerConfig, handler: HTTPHandler) {
        self.config = config
        self.handler = handler
    }

    /// The bound port (useful after starting on port 0).
    public private(set) var port: UInt16 = 0

    public func start() throws {
        var storage = sockaddr_storage()
        var useIPv6 = false
        if config.host.contains(":") {
            var addr = sockaddr_in6()
            addr.sin6_family = sa_family_t(AF_INET6)
            addr.sin6_port = config.port.bigEndian
            guard inet_pton(AF_INET6, config.host, &addr.sin6_addr) == 1 else { throw ServerError.badHost(config.host) }
            withUnsafeBytes(of: addr) { src in
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: src) }
            }
            useIPv6 = true
        } else {
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = config.port.bigEndian
            guard inet_pton(AF_INET, config.host, &addr.sin_addr) == 1 else { throw ServerError.badHost(config.host) }
            withUnsafeBytes(of: addr) { src in
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: src) }
            }
        }

        var flags = UInt32(MHD_USE_INTERNAL_POLLING_THREAD.rawValue | MHD_USE_EPOLL.rawValue
            | MHD_ALLOW_SUSPEND_RESUME.rawValue | MHD_USE_ERROR_LOG.rawValue)
        if useIPv6 { flags |= UInt32(MHD_USE_IPv6.rawValue) }

        let me = Unmanaged.passUnretained(self).toOpaque()
        let started: OpaquePointer? = withUnsafeMutablePointer(to: &storage) { addrPtr in
            var options: [MHD_OptionItem] = [
                MHD_OptionItem(option: MHD_OPTION.SOCK_ADDR, value: 0, ptr_value: UnsafeMutableRawPointer(addrPtr)),
                MHD_OptionItem(option: MHD_OPTION.THREAD_POOL_SIZE, value: max(1, config.threads), ptr_value: nil),
                MHD_OptionItem(option: MHD_OPTION.CONNECTION_LIMIT, value: max(1, config.maxConnections), ptr_value: nil),
                MHD_OptionItem(option: MHD_OPTION.CONNECTION_TIMEOUT, value: max(0, config.connectionTimeoutSeconds), ptr_value: nil),
                MHD_OptionItem(option: MHD_OPTION.LISTEN_BACKLOG_SIZE, value: 1024, ptr_value: nil),
                MHD_OptionItem(
                    option: MHD_OPTION.NOTIFY_COMPLETED,
                    value: unsafeBitCast(requestCompletedTrampoline as MHD_RequestCompletedCallback, to: Int.self),
                    ptr_value: me),
                MHD_OptionItem(option: MHD_OPTION.END, value: 0, ptr_value: nil),
            ]
            return options.withUnsafeMutableBufferPointer { opts in
                lynx_mhd_start(flags, config.port, accessHandlerTrampoline, me, opts.baseAddress)
            }
        }
        guard let started else { throw ServerError.startFailed(host: config.host, port: config.port, errno: errno) }
        daemon = started
        port = lynx_mhd_bound_port(started)
    }

    /// Graceful stop: stop accepting, let requests in progress finish (answers now carry `Connection: close`),
    /// wait up to `drainSeconds` for them, then stop the daemon, which closes idle keep-alive connections.
    public func stop(drainSeconds: Double = 10) {
        guard let daemon else { return }
        draining.store(true, ordering: .sequentiallyConsistent)
        listenFD = MHD_quiesce_daemon(daemon)
        let deadline = monotonicNanos() + UInt64(drainSeconds * 1e9)
        while inFlight.load(ordering: .sequentiallyConsistent) > 0 && monotonicNanos() < deadline {
            usleep(5_000)
        }
        MHD_stop_daemon(daemon)
        if listenFD >= 0 { close(listenFD) }
        self.daemon = nil
    }

    /// Current number of open connections.
    public var connectionCount: Int {
        guard let daemon else { return 0 }
        return Int(lynx_mhd_connection_count(daemon))
    }

    // MARK: - Callbacks (on MHD worker threads)

    fileprivate func access(
        connection: OpaquePointer,
        url: UnsafePointer<CChar>,
        method: UnsafePointer<CChar>,
        version: UnsafePointer<CChar>,
        uploadData: UnsafePointer<CChar>?,
        uploadSize: UnsafeMutablePointer<Int>,
        slot: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    ) -> MHD_Result {
        // First call: headers are in, no body yet.
        guard let raw = slot.pointee else {
            let context = RequestContext()
            inFlight.add(1, ordering: .relaxed)
            context.method = String(cString: method)
            let path = String(cString: url)
            context.route = handler.routeTemplate(for: path) ?? "unmatched"
            slot.pointee = Unmanaged.passRetained(context).toOpaque()
            let head = RequestHead(method: context.method, path: path, version: String(cString: version)) { [unowned self] in
                self.header(connection, $0)
            }
            if let refusal = handler.admit(head) {
                return queue(refusal, on: connection, context: context)
            }
            if let length = header(connection, "Content-Length").flatMap({ Int($0) }), length > config.maxBodyBytes {
                return queue(handler.payloadTooLarge(limit: config.maxBodyBytes), on: connection, context: context)
            }
            return .YES
        }
        let context = Unmanaged<RequestContext>.fromOpaque(raw).takeUnretainedValue()

        // A body chunk.
        if uploadSize.pointee > 0 {
            let size = uploadSize.pointee
            if !context.overLimit {
                if context.body.count + size > config.maxBodyBytes {
                    context.overLimit = true
                    context.body = []
                } else if let uploadData {
                    uploadData.withMemoryRebound(to: UInt8.self, capacity: size) {
                        context.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: size))
                    }
                }
            }
            uploadSize.pointee = 0
            return .YES
        }

        // Resumed after a deferred answer.
        if context.suspended {
            guard let response = context.deferred.withLock({ $0.take() }) else { return .YES }
            context.suspended = false
            return queue(response, on: connection, context: context)
        }

        // Last call: the whole request is here.
        if context.overLimit {
            return queue(handler.payloadTooLarge(limit: config.maxBodyBytes), on: connection, context: context)
        }
        let request = HTTPRequest(
            method: context.method,
            path: String(cString: url),
            query: queryArguments(connection),
            contentType: header(connection, "Content-Type"),
            body: context.body)
        context.body = []
        switch handler.handle(request) {
        case .now(let response):
            return queue(response, on: connection, context: context)
        case .later(let start):
            context.suspended = true
            MHD_suspend_connection(connection)
            let box = ConnectionBox(connection)
            start { response in
                context.deferred.withLock { $0 = response }
                MHD_resume_connection(box.connection)
            }
            return .YES
        }
    }

    fileprivate func completed(slot: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) {
        guard let slot, let raw = slot.pointee else { return }
        let context = Unmanaged<RequestContext>.fromOpaque(raw).takeRetainedValue()
        slot.pointee = nil
        inFlight.subtract(1, ordering: .relaxed)
        if context.status != 0 {
            let seconds = Double(monotonicNanos() &- context.startedAt) / 1e9
            handler.didRespond(route: context.route, method: context.method, status: context.status, seconds: seconds)
        }
    }

    private func queue(_ response: HTTPResponse, on connection: OpaquePointer, context: RequestContext) -> MHD_Result {
        context.status = response.status
        let mhdResponse: OpaquePointer?
        if let file = response.file {  // libmicrohttpd closes the descriptor with the response
            mhdResponse = file.take().flatMap { MHD_create_response_from_fd64(file.size, $0) }
        } else {
            mhdResponse = response.body.withUnsafeBytes { bytes in
                MHD_create_response_from_buffer(bytes.count, UnsafeMutableRawPointer(mutating: bytes.baseAddress), .RESPMEM_MUST_COPY)
            }
        }
        guard let mhdResponse else { return .NO }
        defer { MHD_destroy_response(mhdResponse) }
        MHD_add_response_header(mhdResponse, "Content-Type", response.contentType)
        for (name, value) in response.headers {
            MHD_add_response_header(mhdResponse, name, value)
        }
        if draining.load(ordering: .relaxed) {
            MHD_add_response_header(mhdResponse, "Connection", "close")
        }
        return MHD_queue_response(connection, UInt32(response.status), mhdResponse)
    }

    private func header(_ connection: OpaquePointer, _ name: String) -> String? {
        MHD_lookup_connection_value(connection, .HEADER_KIND, name).map { String(cString: $0) }
    }

    private func queryArguments(_ connection: OpaquePointer) -> [(String, String)] {
        var collected = QueryCollector()
        withUnsafeMutablePointer(to: &collected) { ptr in
            _ = MHD_get_connection_values(connection, .GET_ARGUMENT_KIND, { cls, _, key, value in
                guard let cls, let key else { return .YES }
                let collector = cls.assumingMemoryBound(to: QueryCollector.self)
                collector.pointee.items.append((String(cString: key), value.map { String(cString: $0) } ?? ""))
                return .YES
            }, ptr)
        }
        return collected.items
    }
}

private struct QueryCollector {
    var items: [(String, String)] = []
}

/// Carries the connection pointer to the thread that resumes it. libmicrohttpd allows
/// `MHD_resume_connection` from any thread when the daemon runs with an inter-thread channel (ITC).
private struct ConnectionBox: @unchecked Sendable {
    let connection: OpaquePointer
    init(_ connection: OpaquePointer) { self.connection = connection }
}

private let accessHandlerTrampoline: MHD_AccessHandlerCallback = { cls, connection, url, method, version, uploadData, uploadSize, slot in
    guard let cls, let connection, let url, let method, let version, let uploadSize, let slot else { return .NO }
    let server = Unmanaged<MicroHTTPDServer>.fromOpaque(cls).takeUnretainedValue()
    return server.access(connection: connection, url: url, method: method, version: version, uploadData: uploadData, uploadSize: uploadSize, slot: slot)
}

private let requestCompletedTrampoline: MHD_RequestCompletedCallback = { cls, _, slot, _ in
    guard let cls else { return }
    let server = Unmanaged<MicroHTTPDServer>.fromOpaque(cls).takeUnretainedValue()
    server.completed(slot: slot)
}
