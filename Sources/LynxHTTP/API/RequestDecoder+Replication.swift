import LynxReplication
import LynxTransport

extension RequestDecoder {
    /// The query of `GET /replication/log` (decoded by `LogRequest(query:)`; docs/REPLICATION.md).
    static func logRequest(_ request: HTTPRequest) throws(Problem) -> LogRequest {
        do {
            return try LogRequest(query: request.query)
        } catch {
            throw Problem.invalidRequest(error.message, field: error.parameter)
        }
    }
}
