import LynxEngine
import LynxJSON

extension RequestDecoder {
    /// `"plan"` of a search body: absent, `"auto"`, or the diagnostics `"exact"` and `"graph"` (the index's own
    /// filtered search, a scan for Flat and IVF).
    static func planChoice(_ value: JSONValue?) throws(Problem) -> SearchPlanChoice {
        switch value {
        case nil, .string("auto")?: return .automatic
        case .string("exact")?: return .exact
        case .string("graph")?: return .index
        case let other?:
            throw Problem.invalidRequest("plan: expected \"auto\", \"exact\" or \"graph\", got \(other)", field: "plan")
        }
    }

    /// An optional boolean member (absent: false).
    static func bool(_ value: JSONValue?, field: String) throws(Problem) -> Bool {
        switch value {
        case nil: return false
        case .bool(let b)?: return b
        case let other?: throw Problem.invalidRequest("\(field): expected true or false, got \(other.typeName)", field: field)
        }
    }
}
