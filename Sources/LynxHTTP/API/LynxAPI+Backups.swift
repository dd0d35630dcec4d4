import LynxEngine
import LynxJSON
import LynxTransport

/// `POST/GET /snapshots` and `GET/DELETE /snapshots/{name}`: online backups of one store (docs/BACKUP.md). The
/// API calls a backup a snapshot, as Qdrant does; it is one tar archive of the store at one LSN.
extension LynxAPI {
    /// `POST /snapshots`, body empty or `{"name"?: ..., "rotate"?: bool}`: 201 with the backup, once its archive
    /// is durable.
    static func createBackup(_ api: LynxAPI, _ engine: Engine, _ request: HTTPRequest, _: PathCaptures) throws(Problem) -> HandlerResult {
        try RequestDecoder.noQuery(request)
        let (name, rotate) = try RequestDecoder.backupRequest(request)
        return api.inBackground({ engine.scheduleMaintenance($0) }) { () throws(Problem) in
            let summary = try api.engineCall { try engine.createBackup(named: name, rotate: rotate) }
            var response = Responses.object(status: 201) { w in Self.write(summary, to: &w) }
            response.headers.append(("Location", "snapshots/\(summary.name)"))
            return response
        }
    }

    /// `GET /snapshots`: every backup of the store, oldest first.
    static func listBackups(_ api: LynxAPI, _ engine: Engine, _ request: HTTPRequest, _: PathCaptures) throws(Problem) -> HandlerResult {
        try RequestDecoder.noQuery(request)
        let all = try api.engineCall { try engine.listBackups() }
        return .now(Responses.list("snapshots", all) { Self.write($0, to: &$1) })
    }

    /// `GET /snapshots/{name}`: the archive, sent from its file (never read into memory).
    static func downloadBackup(_ api: LynxAPI, _ engine: Engine, _ request: HTTPRequest, _ captures: PathCaptures) throws(Problem) -> HandlerResult {
        try RequestDecoder.noQuery(request)
        let name = try RequestDecoder.backupName(captures["name"])
        let opened = try api.engineCall { try engine.openBackup(name) }
        var response = HTTPResponse(status: 200, contentType: "application/x-tar",
                                    headers: [("Content-Disposition", "attachment; filename=\"\(name).tar\"")], body: [])
        response.file = ResponseFile(fd: opened.fd, size: opened.bytes)
        return .now(response)
    }

    /// `DELETE /snapshots/{name}`.
    static func deleteBackup(_ api: LynxAPI, _ engine: Engine, _ request: HTTPRequest, _ captures: PathCaptures) throws(Problem) -> HandlerResult {
        try RequestDecoder.noQuery(request)
        let name = try RequestDecoder.backupName(captures["name"])
        try api.engineCall { try engine.deleteBackup(name) }
        return .now(Responses.object { w in w.key("deleted"); w.string(name.value) })
    }

    private static func write(_ summary: BackupSummary, to w: inout JSONWriter) {
        w.key("name"); w.string(summary.name.value)
        w.key("lsn"); w.uint64(summary.lsn)
        w.key("checkpoint_seq"); w.uint64(summary.checkpointSeq)
        w.key("records"); w.uint64(summary.records)
        w.key("bytes"); w.uint64(summary.bytes)
        w.key("created_unix_ms"); w.uint64(summary.createdUnixMillis)
    }
}

extension RequestDecoder {
    /// A backup name from the path or a body: 400 unless it follows `BackupName.rule`.
    static func backupName(_ text: Substring, field: String? = nil) throws(Problem) -> BackupName {
        guard let name = BackupName(String(text)) else {
            throw Problem.invalidRequest("invalid snapshot name: \(BackupName.rule)", field: field)
        }
        return name
    }

    /// The body of `POST /snapshots`: none, or `{"name"?: "...", "rotate"?: bool}` (`rotate` false: no older
    /// backup is removed for this one, as a replica's bootstrap asks).
    static func backupRequest(_ request: HTTPRequest) throws(Problem) -> (name: BackupName?, rotate: Bool) {
        if hasNoBody(request) { return (nil, true) }
        guard case .object(let object) = try json(request) else {
            throw Problem.invalidRequest("the body must be a JSON object {\"name\"?: string, \"rotate\"?: boolean}, or empty")
        }
        try onlyKeys(object, ["name", "rotate"], path: "")
        let rotate = try bool(object["rotate"], field: "rotate", absent: true)
        guard let value = object["name"] else { return (nil, rotate) }
        guard case .string(let text) = value else { throw Problem.invalidRequest("name: expected a string", field: "name") }
        return (try backupName(Substring(text), field: "name"), rotate)
    }
}

extension BackupError {
    /// The one place where backup refusals become HTTP problems.
    package var problem: Problem {
        switch self {
        case .invalidName(let text):
            return .invalidRequest("invalid snapshot name '\(text)': \(BackupName.rule)")
        case .alreadyExists(let name):
            return .conflict("a snapshot named \(name) exists; choose another name or delete it first")
        case .notFound(let name):
            return .notFound("no snapshot named \(name)")
        }
    }
}
