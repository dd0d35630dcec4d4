// libFuzzer target: the two decoders of a `POST /vectors` body (LynxHTTP). Built and run by scripts/fuzz.sh.
//
// The upsert handler reads a body with the fast decoder (`RequestDecoder.fastRecords`, a pull reader straight
// into [Float]) and, when that declines, with the tree decoder (`records` over `JSONParser`'s tree), whose
// problem the client gets. The fast decoder promises to accept exactly the bodies the tree decoder accepts, with
// the same records. Checked on every input, beyond "no crash, no sanitizer report":
// - the fast decoder accepts the body if and only if the tree decoder does;
// - when both accept: the same batch flag and the same records: ids equal, vectors equal bit for bit (-0 is not
//   0, each component the nearest Float to its literal), metadata both absent or both present with the same
//   compact JSON text and the same typed document;
// - when both refuse: the tree decoder's problem is a client error of the upsert's kinds (400 invalid-json or
//   invalid-request, 422 out-of-range or duplicate-id), never a 500. The fast decoder has no problem of its own
//   to compare (it declines with nil, and the client always gets the tree decoder's answer), so there is no
//   status or detail on its side that could disagree.
// The batch limit is small (4) so that short inputs reach it; the dimension hint only sizes a buffer.
import LynxEngine
import LynxHTTP
import LynxTransport

private let decoder = RequestDecoder(maxBatch: 4, maxSearchResults: 100_000)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDecoders(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let body = [UInt8](UnsafeBufferPointer(start: data, count: size))
    let fast = decoder.fastRecords(body, dimensionHint: 4)
    let request = HTTPRequest(method: "POST", path: "/vectors", contentType: "application/json", body: body)
    let tree: Result<RequestDecoder.DecodedRecords, Problem> = Result { () throws(Problem) in
        try decoder.records(RequestDecoder.json(request))
    }
    switch (fast, tree) {
    case (let fast?, .success(let tree)):
        if let difference = difference(fast, tree) { fail("the decoders disagree: \(difference)", body) }
    case (nil, .failure(let problem)):
        let kinds: Set<String> = ["400 invalid-json", "400 invalid-request", "422 out-of-range", "422 duplicate-id"]
        guard kinds.contains("\(problem.status) \(problem.slug)") else {
            fail("the tree decoder refused with \(problem.status) \(problem.slug): \(problem.detail)", body)
        }
    case (_?, .failure(let problem)):
        fail("the fast decoder accepted what the tree decoder refuses (\(problem.status) \(problem.slug): \(problem.detail))", body)
    case (nil, .success(let tree)):
        fail("the fast decoder declined what the tree decoder accepts (\(tree.records.count) records)", body)
    }
    return 0
}

/// What differs between the two decodings, or nil.
private func difference(_ fast: RequestDecoder.DecodedRecords, _ tree: RequestDecoder.DecodedRecords) -> String? {
    if fast.isBatch != tree.isBatch { return "batch \(fast.isBatch) vs \(tree.isBatch)" }
    if fast.records.count != tree.records.count { return "\(fast.records.count) vs \(tree.records.count) records" }
    for (i, (a, b)) in zip(fast.records, tree.records).enumerated() {
        if a.id != b.id { return "record \(i): id \(a.id) vs \(b.id)" }
        if a.vector.map(\.bitPattern) != b.vector.map(\.bitPattern) { return "record \(i): vector \(a.vector) vs \(b.vector)" }
        switch (a.metadata, b.metadata) {
        case (nil, nil): break
        case (let x?, let y?):
            if x.json != y.json {
                return "record \(i): metadata \(String(decoding: x.json, as: UTF8.self)) vs \(String(decoding: y.json, as: UTF8.self))"
            }
            if x.document != y.document { return "record \(i): metadata documents \(x.document) vs \(y.document)" }
        default:
            return "record \(i): metadata \(a.metadata == nil ? "absent" : "present") vs \(b.metadata == nil ? "absent" : "present")"
        }
    }
    return nil
}

private func fail(_ message: String, _ body: [UInt8]) -> Never {
    fatalError("\(message); body: \(String(decoding: body.prefix(400), as: UTF8.self))")
}
