import CCurl
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// libcurl's global state, set up once before the first handle (curl_global_init is not thread-safe itself;
/// Swift runs a global's initialiser exactly once).
private let curlGlobal: CURLcode = lynx_curl_global_init()

/// One libcurl easy handle (keeps its connection alive between requests). Not thread-safe: one per thread/loop.
///
/// Redirects are not followed, only http and https are spoken, and no signals are used (CURLOPT_NOSIGNAL), so
/// any thread may own a client.
public final class HTTPClient: @unchecked Sendable {
    private let handle: UnsafeMutableRawPointer
    private let connectTimeoutSeconds: Double
    private let errorBuffer: UnsafeMutablePointer<CChar>

    public init(connectTimeoutSeconds: Double = 1) {
        precondition(curlGlobal == CURLE_OK, "curl_global_init failed")
        // curl_easy_init fails only when out of memory.
        guard let handle = curl_easy_init() else { fatalError("curl_easy_init failed") }
        self.handle = handle
        self.connectTimeoutSeconds = connectTimeoutSeconds
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    public func request(_ method: String, _ url: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
                        timeoutSeconds: Double) throws(HTTPClientError) -> HTTPClientResponse {
        let sink = ResponseSink()
        try perform(method, url, headers: headers, body: body, timeoutSeconds: timeoutSeconds, into: sink)
        return HTTPClientResponse(status: sink.status, headers: sink.headers, body: sink.body)
    }

    /// Streams a GET's body into a file at `path` (created/truncated), for large downloads; returns status + headers.
    /// Only a 2xx body goes to the file (not synced: the caller fsyncs what it keeps); any other status leaves
    /// the file empty and returns its body in `body`. A failed write aborts the transfer with an error.
    public func download(_ url: String, headers: [(String, String)] = [], to path: String,
                         timeoutSeconds: Double) throws(HTTPClientError) -> HTTPClientResponse {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw HTTPClientError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let sink = ResponseSink(file: fd)
        do {
            try perform("GET", url, headers: headers, body: nil, timeoutSeconds: timeoutSeconds, into: sink)
        } catch {
            if sink.fileErrno != 0 {
                throw HTTPClientError("writing \(path): \(String(cString: strerror(sink.fileErrno)))")
            }
            throw error
        }
        return HTTPClientResponse(status: sink.status, headers: sink.headers, body: sink.body)
    }

    private func perform(_ method: String, _ url: String, headers: [(String, String)], body: [UInt8]?,
                         timeoutSeconds: Double, into sink: ResponseSink) throws(HTTPClientError) {
        // Reset drops every option of the last request but keeps the open connections.
        curl_easy_reset(handle)
        errorBuffer[0] = 0
        var list: UnsafeMutablePointer<curl_slist>? = nil
        // "Expect:" stops libcurl from waiting for a 100 Continue before a large body.
        for line in headers.map({ "\($0.0): \($0.1)" }) + ["Expect:"] {
            list = curl_slist_append(list, line)
        }
        defer { curl_slist_free_all(list) }
        // Unretained: `sink` outlives the transfer (withExtendedLifetime below).
        let context = Unmanaged.passUnretained(sink).toOpaque()
        var rc = CURLE_OK
        func set(_ result: CURLcode) { if rc == CURLE_OK { rc = result } }
        set(lynx_curl_setopt_str(handle, CURLOPT_URL, url))
        set(lynx_curl_http_only(handle))
        set(lynx_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
        set(lynx_curl_setopt_long(handle, CURLOPT_TCP_NODELAY, 1))
        set(lynx_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(connectTimeoutSeconds)))
        set(lynx_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Self.milliseconds(timeoutSeconds)))
        set(lynx_curl_setopt_ptr(handle, CURLOPT_ERRORBUFFER, errorBuffer))
        set(lynx_curl_setopt_func(handle, CURLOPT_WRITEFUNCTION, sinkBodyCallback))
        set(lynx_curl_setopt_ptr(handle, CURLOPT_WRITEDATA, context))
        set(lynx_curl_setopt_func(handle, CURLOPT_HEADERFUNCTION, sinkHeaderCallback))
        set(lynx_curl_setopt_ptr(handle, CURLOPT_HEADERDATA, context))
        set(lynx_curl_setopt_ptr(handle, CURLOPT_HTTPHEADER, list))
        // A one-byte buffer stands for an empty body: POSTFIELDS with a null pointer would make libcurl read
        // the body through a read callback (stdin by default).
        let size = body?.count ?? 0
        var payload = size > 0 ? body! : [0]
        let code: CURLcode = payload.withUnsafeMutableBytes { bytes in
            switch (method, body) {
            case ("GET", nil): set(lynx_curl_setopt_long(handle, CURLOPT_HTTPGET, 1))
            case ("HEAD", nil): set(lynx_curl_setopt_long(handle, CURLOPT_NOBODY, 1))
            case (_, nil) where method != "POST":
                set(lynx_curl_setopt_str(handle, CURLOPT_CUSTOMREQUEST, method))
            default:
                set(lynx_curl_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(size)))
                set(lynx_curl_setopt_ptr(handle, CURLOPT_POSTFIELDS, bytes.baseAddress))
                if method != "POST" { set(lynx_curl_setopt_str(handle, CURLOPT_CUSTOMREQUEST, method)) }
            }
            guard rc == CURLE_OK else { return rc }
            return withExtendedLifetime(sink) { curl_easy_perform(handle) }
        }
        guard code == CURLE_OK else {
            let detail = String(cString: errorBuffer)
            let reason = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            throw HTTPClientError("\(method) \(url): \(reason)", timedOut: code == CURLE_OPERATION_TIMEDOUT)
        }
        var status = 0
        if lynx_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK, status != 0 {
            sink.status = status
        }
    }

    private static func milliseconds(_ seconds: Double) -> Int {
        max(1, Int((seconds * 1000).rounded(.up)))
    }
}
