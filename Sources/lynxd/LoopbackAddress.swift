#if canImport(Glibc)
import Glibc
#endif

/// Whether a numeric listening address reaches only this machine.
enum LoopbackAddress {
    /// true for 127.0.0.0/8, `::1` and IPv4-mapped 127.0.0.0/8; false for any other address (`0.0.0.0` and `::`
    /// included); nil when `host` is not a numeric address (the server then refuses it with its own message).
    static func isLoopback(_ host: String) -> Bool? {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, host, &v6) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: v6) { Array($0) }
        if bytes[..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }
        let mapped = bytes[..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF
        return mapped && bytes[12] == 127
    }
}
