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
}
