#if canImport(Glibc)
import Glibc
#endif
import CMicroHTTPD
import Dispatch
import Logging
import LynxSupport
import Synchronization

/// Errors raised while starting the HTTP front end.
public enum ServerError: Error, CustomStringConvertible {
    case badHost(String)
    case startFailed(host: String, port: UInt16, errno: Int32)
    /// The TLS certificate or key cannot be used (the text says which file and why).
    case tls(String)

    public var description: String {
        switch self {
        case .badHost(let host):
            return "cannot listen on '\(host)': not a numeric IPv4 or IPv6 address"
        case .startFailed(let host, let port, let code):
            return "cannot listen on \(host):\(port): \(String(cString: strerror(code)))"
        case .tls(let text):
            return text
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
/// close the connection after the response, which kills keep-alive), except for the answers decided when the
/// headers are in (framing, a request target past the limits, admission, 413 from `Content-Length`, 503 from
/// `--max-body-memory`), which must not read the body at all. libmicrohttpd 0.9.75 cannot queue a response while
/// a body is arriving, so an answer decided in the middle of a chunked body (413, 503) is written past it
/// (`answerMidUpload`).
///
/// Limits libmicrohttpd does not hold by itself are kept by `ConnectionTracker` (request deadline, eviction)
/// and `BodyMemory` (the ceiling on bodies in memory).
public final class MicroHTTPDServer: @unchecked Sendable {
    private let config: ServerConfig
    private let handler: HTTPHandler
    private var daemon: OpaquePointer?
    private var listenFD: Int32 = -1
    /// Set while draining: every response then carries `Connection: close`.
    private let draining = Atomic<Bool>(false)
    /// Requests begun and not yet completed (including suspended ones waiting for fsync).
    private let inFlight = Atomic<Int>(0)
    private let tracker: ConnectionTracker
    private let bodyMemory: BodyMemory
    /// Requests whose bodies (request and answer together) reserved at least this many bytes note work on the
    /// process's heap release, so that a large answer's memory goes back once requests pause.
    private static let heapReleaseBytes = 8 << 20
    private let logger: Logger
    private var reaper: DispatchSourceTimer?
    /// C copies of the TLS settings; libmicrohttpd keeps the pointers.
    private var tlsStrings: [UnsafeMutablePointer<CChar>] = []
    /// How long a connection answered in the middle of its upload stays open for the client to read the answer.
    static let lingerSeconds = 1.0
    /// Each connection's memory pool in libmicrohttpd: its read buffer (half the pool to start with) holds the
    /// request line and header fields, and every header field and query parameter takes a 64-byte record
    /// from the rest. Twice the 32 KiB header block the README promises, so such a block with the most query
    /// parameters (`LYNX_MAX_QUERY_PARAMETERS`) fits with room for the records and the answer's head.
    static let connectionMemoryBytes = 64 << 10
    /// Answers up to this size are not counted against `--max-body-memory`: the connection limit bounds them.
    static let uncountedAnswerBytes = 64 << 10

    public init(config: ServerConfig, handler: HTTPHandler, logger: Logger = Logger(label: "lynx.http")) {
        self.config = config
        self.handler = handler
        self.logger = logger
        bodyMemory = BodyMemory(limit: config.maxBodyMemory)
        tracker = ConnectionTracker(
            requestTimeoutSeconds: config.requestTimeoutSeconds, maxConnections: config.maxConnections,
            maxConnectionsPerAddress: config.maxConnectionsPerIP, workerThreads: max(1, config.threads),
            onCut: { [logger, handler] cuts in
                Self.log(cuts, logger)
                for cut in cuts { handler.didCloseConnection(cut.reason) }
            })
    }

    deinit {
        for string in tlsStrings { free(string) }
    }

    /// The scheme the server speaks: `https` with TLS credentials, else `http`.
    public var scheme: String { config.tls == nil ? "http" : "https" }

    /// The bound port (useful after starting on port 0).
    public private(set) var port: UInt16 = 0

    public func start() throws {
        var storage = sockaddr_storage()
        func store<Address>(_ addr: Address) {
            withUnsafeBytes(of: addr) { src in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: src) } }
        }
        let useIPv6 = config.host.contains(":")
        if useIPv6 {
            var addr = sockaddr_in6()
            addr.sin6_family = sa_family_t(AF_INET6)
            addr.sin6_port = config.port.bigEndian
            guard inet_pton(AF_INET6, config.host, &addr.sin6_addr) == 1 else { throw ServerError.badHost(config.host) }
            store(addr)
        } else {
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = config.port.bigEndian
            guard inet_pton(AF_INET, config.host, &addr.sin_addr) == 1 else { throw ServerError.badHost(config.host) }
            store(addr)
        }

        var flags = UInt32(MHD_USE_INTERNAL_POLLING_THREAD.rawValue | MHD_USE_EPOLL.rawValue
            | MHD_ALLOW_SUSPEND_RESUME.rawValue | MHD_USE_ERROR_LOG.rawValue)
        if useIPv6 { flags |= UInt32(MHD_USE_IPv6.rawValue) }
        var tlsOptions: [MHD_OptionItem] = []
        if let tls = config.tls {
            flags |= UInt32(MHD_USE_TLS.rawValue)
            tlsStrings = [strdup(tls.certificatePEM), strdup(tls.keyPEM), strdup(TLSCredentials.priorities)]
            tlsOptions = [
                MHD_OptionItem(option: MHD_OPTION.HTTPS_MEM_CERT, value: 0, ptr_value: UnsafeMutableRawPointer(tlsStrings[0])),
                MHD_OptionItem(option: MHD_OPTION.HTTPS_MEM_KEY, value: 0, ptr_value: UnsafeMutableRawPointer(tlsStrings[1])),
                MHD_OptionItem(option: MHD_OPTION.HTTPS_PRIORITIES, value: 0, ptr_value: UnsafeMutableRawPointer(tlsStrings[2])),
            ]
        }

        let me = Unmanaged.passUnretained(self).toOpaque()
        let started: OpaquePointer? = withUnsafeMutablePointer(to: &storage) { addrPtr in
            var options: [MHD_OptionItem] = [
                MHD_OptionItem(option: MHD_OPTION.SOCK_ADDR, value: 0, ptr_value: UnsafeMutableRawPointer(addrPtr)),
                MHD_OptionItem(option: MHD_OPTION.THREAD_POOL_SIZE, value: max(1, config.threads), ptr_value: nil),
                MHD_OptionItem(option: MHD_OPTION.CONNECTION_LIMIT, value: max(1, config.maxConnections), ptr_value: nil),
                MHD_OptionItem(option: MHD_OPTION.PER_IP_CONNECTION_LIMIT, value: max(1, config.maxConnectionsPerIP), ptr_value: nil),
                MHD_OptionItem(option: MHD_OPTION.CONNECTION_TIMEOUT, value: max(0, config.connectionTimeoutSeconds), ptr_value: nil),
                MHD_OptionItem(option: MHD_OPTION.LISTEN_BACKLOG_SIZE, value: 1024, ptr_value: nil),
                MHD_OptionItem(option: MHD_OPTION.CONNECTION_MEMORY_LIMIT, value: Self.connectionMemoryBytes, ptr_value: nil),
                MHD_OptionItem(
                    option: MHD_OPTION.URI_LOG_CALLBACK,
                    value: unsafeBitCast(checkTarget as TargetCallback, to: Int.self),
                    ptr_value: nil),
                MHD_OptionItem(
                    option: MHD_OPTION.NOTIFY_COMPLETED,
                    value: unsafeBitCast(requestCompletedTrampoline as MHD_RequestCompletedCallback, to: Int.self),
                    ptr_value: me),
                MHD_OptionItem(
                    option: MHD_OPTION.NOTIFY_CONNECTION,
                    value: unsafeBitCast(connectionNotifyTrampoline as MHD_NotifyConnectionCallback, to: Int.self),
                    ptr_value: me),
                MHD_OptionItem(
                    option: MHD_OPTION.UNESCAPE_CALLBACK,
                    value: unsafeBitCast(unescapeKeepingNUL as UnescapeCallback, to: Int.self),
                    ptr_value: nil),
            ] + tlsOptions + [
                MHD_OptionItem(option: MHD_OPTION.END, value: 0, ptr_value: nil),
            ]
            return options.withUnsafeMutableBufferPointer { opts in
                lynx_mhd_start(flags, config.port, accessHandlerTrampoline, me, opts.baseAddress)
            }
        }
        guard let started else { throw ServerError.startFailed(host: config.host, port: config.port, errno: errno) }
        daemon = started
        port = lynx_mhd_bound_port(started)
        startReaper()
    }

    /// Checks request deadlines and lingering connections a few times per deadline (at most every second).
    private func startReaper() {
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "lynx.http.reaper"))
        let interval = min(1.0, max(0.05, config.requestTimeoutSeconds / 4))
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler { [tracker] in tracker.reap() }
        timer.resume()
        reaper = timer
    }

    private static func log(_ cuts: [ConnectionTracker.Cut], _ logger: Logger) {
        for cut in cuts {
            switch cut {
            case .deadline(let address, let phase, let seconds):
                logger.notice("closed a connection: no whole request within --request-timeout", metadata: [
                    "client": "\(address)", "phase": "\(phase)", "seconds": "\(Int(seconds))"])
            case .evicted(let address, let phase, let perAddress):
                logger.debug("closed the oldest connection waiting for its request to make room", metadata: [
                    "client": "\(address)", "phase": "\(phase)",
                    "limit": perAddress ? "--max-connections-per-ip" : "--max-connections"])
            case .lingered(let address):
                logger.debug("closed a connection answered during its upload", metadata: ["client": "\(address)"])
            }
        }
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
        reaper?.cancel()
        reaper = nil
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
        // First call: headers are in, no body yet (the slot holds nil, or the mark of a refused target).
        guard let raw = slot.pointee, raw != lynx_target_refused() else {
            let targetRefused = slot.pointee != nil
            let context = RequestContext()
            inFlight.add(1, ordering: .relaxed)
            tracker.setPhase(connection, .receiving)
            context.method = String(cString: method)
            let path = String(cString: url)
            context.match = handler.match(path)
            slot.pointee = Unmanaged.passRetained(context).toOpaque()
            let versionText = String(cString: version)
            if let refusal = RequestFraming.refusal(
                version: versionText, contentLengths: Int(lynx_mhd_header_count(connection, "Content-Length")),
                transferEncodings: Int(lynx_mhd_header_count(connection, "Transfer-Encoding"))) {
                return answerEarly(handler.refusal(refusal), on: connection, context: context)
            }
            if targetRefused {
                let refusal = ServerRefusal.targetTooLong(maxBytes: Int(LYNX_MAX_TARGET_BYTES), maxParameters: Int(LYNX_MAX_QUERY_PARAMETERS))
                return answerEarly(handler.refusal(refusal), on: connection, context: context)
            }
            let head = RequestHead(method: context.method, path: path, version: versionText) { [unowned self] in
                self.header(connection, $0)
            }
            if let refusal = handler.admit(head, match: context.match) {
                return answerEarly(refusal, on: connection, context: context)
            }
            // Read as UInt64, as libmicrohttpd does (it refuses longer numbers itself): an Int would miss 2^63 and up.
            if let length = header(connection, "Content-Length").flatMap({ UInt64($0) }), length > 0 {
                if length > UInt64(config.maxBodyBytes) {
                    return answerEarly(handler.refusal(.payloadTooLarge(limit: config.maxBodyBytes)), on: connection, context: context)
                }
                guard reserveBody(Int(length), context) else {
                    return answerEarly(handler.refusal(bodyMemoryFull), on: connection, context: context)
                }
            }
            return .YES
        }
        let context = Unmanaged<RequestContext>.fromOpaque(raw).takeUnretainedValue()

        // Answered in the middle of the upload: discard the rest until the client goes or the linger ends; if
        // the body does end meanwhile, close (the answer is already written, nothing may be queued after it).
        if context.answeredMidUpload {
            guard uploadSize.pointee > 0 else { return .NO }
            uploadSize.pointee = 0
            return .YES
        }

        // A body chunk.
        if uploadSize.pointee > 0 {
            let size = uploadSize.pointee
            uploadSize.pointee = 0
            let total = context.body.count + size
            if total > config.maxBodyBytes {
                return answerMidUpload(handler.refusal(.payloadTooLarge(limit: config.maxBodyBytes)), on: connection, context: context)
            }
            // A chunked body reserves as it grows, doubling like the array that holds it.
            if total > context.reservedBytes
                && !reserveBody(min(config.maxBodyBytes, max(total, 2 * context.reservedBytes, 65_536)) - context.reservedBytes, context)
                && !reserveBody(total - context.reservedBytes, context) {
                return answerMidUpload(handler.refusal(bodyMemoryFull), on: connection, context: context)
            }
            if let uploadData {
                uploadData.withMemoryRebound(to: UInt8.self, capacity: size) {
                    context.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: size))
                }
            }
            return .YES
        }

        // Resumed after a deferred answer.
        if context.suspended {
            guard let response = context.deferred.withLock({ $0.take() }) else { return .YES }
            context.suspended = false
            return queue(response, on: connection, context: context)
        }

        // Last call: the whole request is here.
        tracker.setPhase(connection, .handling)
        let request = HTTPRequest(
            method: context.method,
            path: String(cString: url),
            query: queryArguments(connection),
            contentType: header(connection, "Content-Type"),
            body: context.body)
        context.body = []
        switch handler.handle(request, match: context.match) {
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

    private var bodyMemoryFull: ServerRefusal { .bodyMemoryFull(limit: bodyMemory.limit, retryAfter: 1) }

    /// Reserves `bytes` more of body memory for this request and room for them in its buffer.
    private func reserveBody(_ bytes: Int, _ context: RequestContext) -> Bool {
        guard bodyMemory.reserve(bytes) else { return false }
        context.reservedBytes += bytes
        context.body.reserveCapacity(context.reservedBytes)
        return true
    }

    private func releaseBody(_ context: RequestContext) {
        context.body = []
        bodyMemory.release(context.reservedBytes)
        context.reservedBytes = 0
    }

    /// An answer decided when the headers are in: libmicrohttpd sends it without reading the body, then closes.
    private func answerEarly(_ response: HTTPResponse, on connection: OpaquePointer, context: RequestContext) -> MHD_Result {
        tracker.setPhase(connection, .handling)
        return queue(response, on: connection, context: context)
    }

    private func noteHeld(bytes: Int) {
        if bytes >= Self.heapReleaseBytes { HeapRelease.process.noteWork() }
    }

    /// An answer decided while the body arrives. libmicrohttpd (0.9.75) refuses to queue a response then, so
    /// the answer is written to the connection directly (through its TLS session, if any) with
    /// `Connection: close`, and the sending side is shut. The rest of the body is discarded while the client
    /// gets time to read the answer (`lingerSeconds`), then the connection is closed: a close with unread
    /// data would send a reset, which can destroy the answer before the client reads it.
    private func answerMidUpload(_ response: HTTPResponse, on connection: OpaquePointer, context: RequestContext) -> MHD_Result {
        context.status = response.status
        context.answeredMidUpload = true
        releaseBody(context)
        let bytes = response.http11Bytes(closing: true)
        let written = bytes.withUnsafeBytes { lynx_mhd_write_direct(connection, $0.baseAddress, $0.count) } == 1
        let fd = lynx_mhd_connection_fd(connection)
        guard written, fd >= 0 else { return .NO }
        tracker.linger(connection, seconds: Self.lingerSeconds)
        // TLS: a close_notify would be proper, but libmicrohttpd owns the session; a TCP FIN ends the answer.
        _ = shutdown(fd, Int32(SHUT_WR))
        return .YES
    }

    fileprivate func connectionStarted(_ connection: OpaquePointer) {
        var address = [CChar](repeating: 0, count: 64)
        lynx_mhd_client_address(connection, &address, address.count)
        tracker.started(connection, fd: lynx_mhd_connection_fd(connection), address: String(cString: address))
    }

    fileprivate func connectionClosed(_ connection: OpaquePointer) {
        tracker.closed(connection)
    }

    fileprivate func completed(connection: OpaquePointer?, slot: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) {
        guard let slot, let raw = slot.pointee else { return }
        slot.pointee = nil
        guard raw != lynx_target_refused() else { return }  // refused before the access handler ran
        let context = Unmanaged<RequestContext>.fromOpaque(raw).takeRetainedValue()
        inFlight.subtract(1, ordering: .relaxed)
        noteHeld(bytes: context.reservedBytes)
        releaseBody(context)
        if let connection { tracker.setPhase(connection, .waiting) }
        if context.status != 0 {
            let seconds = Double(monotonicNanos() &- context.startedAt) / 1e9
            handler.didRespond(route: context.route, method: context.method, status: context.status, seconds: seconds)
        }
    }

    private func queue(_ response: HTTPResponse, on connection: OpaquePointer, context: RequestContext) -> MHD_Result {
        // libmicrohttpd holds the whole answer until the client has read it, so a large one is counted like a
        // request body until the request completes; past the ceiling the client gets the 503 instead.
        if response.body.count > Self.uncountedAnswerBytes {
            guard bodyMemory.reserve(response.body.count) else {
                noteHeld(bytes: response.body.count)  // made, and dropped for the 503
                return queue(handler.refusal(bodyMemoryFull), on: connection, context: context)
            }
            context.reservedBytes += response.body.count
        }
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
        if draining.load(ordering: .relaxed) && !response.headers.contains(where: { $0.0 == "Connection" }) {
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

private let requestCompletedTrampoline: MHD_RequestCompletedCallback = { cls, connection, slot, _ in
    guard let cls else { return }
    let server = Unmanaged<MicroHTTPDServer>.fromOpaque(cls).takeUnretainedValue()
    server.completed(connection: connection, slot: slot)
}

private let connectionNotifyTrampoline: MHD_NotifyConnectionCallback = { cls, connection, _, code in
    guard let cls, let connection else { return }
    let server = Unmanaged<MicroHTTPDServer>.fromOpaque(cls).takeUnretainedValue()
    if code == .CONNECTION_NOTIFY_STARTED {
        server.connectionStarted(connection)
    } else {
        server.connectionClosed(connection)
    }
}

private typealias TargetCallback = @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, OpaquePointer?) -> UnsafeMutableRawPointer?

/// See `lynx_check_target` in the shim.
private let checkTarget: TargetCallback = { cls, uri, connection in
    guard let uri else { return nil }
    return lynx_check_target(cls, uri, connection)
}

private typealias UnescapeCallback = @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?, UnsafeMutablePointer<CChar>?) -> Int

/// See `lynx_unescape_keeping_nul` in the shim.
private let unescapeKeepingNUL: UnescapeCallback = { cls, connection, text in
    guard let text else { return 0 }
    return lynx_unescape_keeping_nul(cls, connection, text)
}
