import CCurl
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Collects one transfer's headers and body; libcurl's callbacks reach it through an unretained pointer that is
/// valid for the duration of `curl_easy_perform` only.
final class ResponseSink {
    var headers: [(String, String)] = []
    var status = 0
    var body: [UInt8] = []
    /// With a download: the file a 2xx body goes to. Any other status keeps its body (a problem document) in
    /// `body`, so the caller can say why.
    let file: Int32
    /// errno of a failed write into `file`.
    var fileErrno: Int32 = 0

    init(file: Int32 = -1) { self.file = file }

    /// The most a Content-Length makes the sink reserve before the bytes arrive.
    static let maxReserve = 64 << 20

    func receiveBody(_ data: UnsafePointer<CChar>, _ count: Int) -> Int {
        if file >= 0 && (200..<300).contains(status) {
            var done = 0
            while done < count {
                let n = write(file, data + done, count - done)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { fileErrno = errno; return 0 }  // fewer bytes than given: libcurl aborts the transfer
                done += n
            }
            return count
        }
        data.withMemoryRebound(to: UInt8.self, capacity: count) { body.append(contentsOf: UnsafeBufferPointer(start: $0, count: count)) }
        return count
    }

    /// One header line as libcurl hands it over (with its CRLF). A new status line (after a 100 Continue)
    /// starts the header list afresh.
    func receiveHeader(_ data: UnsafePointer<CChar>, _ count: Int) -> Int {
        let line = data.withMemoryRebound(to: UInt8.self, capacity: count) {
            String(decoding: UnsafeBufferPointer(start: $0, count: count), as: UTF8.self)
        }.trimmingWhitespace()
        if line.hasPrefix("HTTP/") {
            headers.removeAll()
            let parts = line.split(separator: " ", maxSplits: 2)
            status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        } else if let colon = line.firstIndex(of: ":") {
            let name = String(line[..<colon]).trimmingWhitespace()
            let value = String(line[line.index(after: colon)...]).trimmingWhitespace()
            headers.append((name, value))
            // The body's room at once, not by doubling as it arrives (bounded: the length is the peer's word).
            if name.lowercased() == "content-length", let length = Int(value), length > 0, file < 0 {
                body.reserveCapacity(min(length, Self.maxReserve))
            }
        }
        return count
    }
}

let sinkBodyCallback: lynx_curl_data_fn = { data, size, count, context in
    guard let data, let context else { return 0 }
    let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
    return sink.receiveBody(data, size * count)
}

let sinkHeaderCallback: lynx_curl_data_fn = { data, size, count, context in
    guard let data, let context else { return 0 }
    let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
    return sink.receiveHeader(data, size * count)
}

extension String {
    func trimmingWhitespace() -> String {
        // Character.isWhitespace also covers "\r\n", which Swift holds as one Character.
        guard let start = firstIndex(where: { !$0.isWhitespace }), let end = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(self[start...end])
    }
}
