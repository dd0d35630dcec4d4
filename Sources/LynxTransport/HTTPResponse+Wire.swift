import CMicroHTTPD

extension HTTPResponse {
    /// The response as HTTP/1.1 bytes (status line, headers, body), for the rare answer written past
    /// libmicrohttpd. `closing` adds `Connection: close`.
    func http11Bytes(closing: Bool) -> [UInt8] {
        let reason = String(cString: MHD_get_reason_phrase_for(UInt32(status)))
        var head = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n"
        for (name, value) in headers where name.lowercased() != "connection" {
            head += "\(name): \(value)\r\n"
        }
        if closing { head += "Connection: close\r\n" }
        head += "\r\n"
        return Array(head.utf8) + body
    }
}
