#if canImport(Glibc)
import Glibc
#endif
import CMicroHTTPD

/// A certificate chain and its private key (PEM), checked with GnuTLS when loaded, for `MHD_USE_TLS`.
public struct TLSCredentials: Sendable {
    public let certificatePEM: String
    public let keyPEM: String
    /// GnuTLS priorities: the library's normal choice of ciphers, TLS 1.2 and 1.3 only.
    static let priorities = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

    /// Reads and checks both files; the error names the file and what is wrong with it.
    public init(certificateFile: String, keyFile: String) throws(ServerError) {
        certificatePEM = try Self.read(certificateFile, what: "certificate")
        keyPEM = try Self.read(keyFile, what: "key")
        guard certificatePEM.contains("-----BEGIN CERTIFICATE-----") else {
            throw .tls("\(certificateFile) holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
        }
        guard keyPEM.contains("PRIVATE KEY-----") else {
            throw .tls("\(keyFile) holds no PEM private key (-----BEGIN ... PRIVATE KEY-----)")
        }
        let code = lynx_tls_check_pair(certificatePEM, keyPEM)
        guard code == 0 else {
            throw .tls("\(certificateFile) and \(keyFile) are not a usable certificate and key: \(String(cString: lynx_tls_error(code)))")
        }
    }

    private static func read(_ path: String, what: String) throws(ServerError) -> String {
        guard let file = fopen(path, "rb") else {
            throw .tls("cannot read the TLS \(what) \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n > 0 { bytes.append(contentsOf: buffer[0..<n]) }
            if n < buffer.count { break }
            if bytes.count > 1 << 20 { throw .tls("the TLS \(what) \(path) is over 1 MiB; it is not a PEM file") }
        }
        if ferror(file) != 0 { throw .tls("cannot read the TLS \(what) \(path): \(String(cString: strerror(errno)))") }
        return String(decoding: bytes, as: UTF8.self)
    }
}
