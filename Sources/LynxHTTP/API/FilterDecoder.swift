import LynxEngine
import LynxJSON

/// Turns a request's JSON filter into the engine's `Filter`, strictly: every rejection is a 400 `Problem` whose
/// field is the JSON path of the offending member (`filter.$and[1].year.$gt`). docs/FILTERS.md is the reference.
///
/// - An object is the conjunction of its members. A member is a logical operator (`$and`, `$or`: non-empty
///   arrays of filter objects; `$not`: a filter object) or a condition on a field (a dotted path into nested
///   objects).
/// - A field's value is a scalar (shorthand for `$eq`) or a non-empty object of operators, several meaning and.
/// - `$eq`/`$ne` take a scalar; `$gt $gte $lt $lte` a number or a string; `$in`/`$nin` an array of scalars;
///   `$exists` a boolean.
/// - Numbers are typed as in metadata (`FieldValue.init(_:)`): integers in `Int64`'s range exactly, the rest as
///   their nearest double.
/// - At most `maxTerms` terms (422 naming the limit): evaluating a filter costs about one step per term for each
///   record it visits, so this bounds the work one request can ask for.
package enum FilterDecoder {
    static let logicalOperators = ["$and", "$or", "$not"]
    static let fieldOperators = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists"]
    /// Terms one filter may hold: a condition is one, a `$in`/`$nin` one per member (at least one), and each
    /// item of an `$and`/`$or` one more.
    static let maxTerms = 10_000

    package static func decode(_ value: JSONValue, path: String = "filter") throws(Problem) -> Filter {
        var terms = 0
        return try decode(value, path: path, terms: &terms)
    }

    private static func decode(_ value: JSONValue, path: String, terms: inout Int) throws(Problem) -> Filter {
        guard case .object(let object) = value else {
            throw invalid(path, "expected an object of conditions, got \(value.typeName)")
        }
        var parts: [Filter] = []
        parts.reserveCapacity(object.count)
        for (key, member) in object.members {
            let memberPath = "\(path).\(key)"
            if key.hasPrefix("$") {
                parts.append(try logical(key, member, path: memberPath, terms: &terms))
            } else {
                parts.append(try field(FieldPath(dotted: key), member, path: memberPath, terms: &terms))
            }
        }
        return parts.count == 1 ? parts[0] : .and(parts)
    }

    private static func logical(_ op: String, _ value: JSONValue, path: String, terms: inout Int) throws(Problem) -> Filter {
        switch op {
        case "$and", "$or":
            guard case .array(let items) = value else {
                throw invalid(path, "expected an array of filter objects, got \(value.typeName)")
            }
            guard !items.isEmpty else { throw invalid(path, "expected at least one filter object") }
            try count(items.count, path: path, terms: &terms)
            var parts: [Filter] = []
            for (i, item) in items.enumerated() { parts.append(try decode(item, path: "\(path)[\(i)]", terms: &terms)) }
            return op == "$and" ? .and(parts) : .or(parts)
        case "$not":
            return .not(try decode(value, path: path, terms: &terms))
        default:
            let hint = fieldOperators.contains(op) ? "; \(op) goes inside a field: {\"field\": {\"\(op)\": ...}}" : ""
            throw invalid(path, "unknown operator \(op) (allowed here: \(logicalOperators.joined(separator: ", ")))\(hint)")
        }
    }

    /// The conditions on one field: a scalar (`$eq`) or an object of operators.
    private static func field(_ field: FieldPath, _ value: JSONValue, path: String, terms: inout Int) throws(Problem) -> Filter {
        switch value {
        case .array:
            throw invalid(path, "an array is not a value to compare with; to match any of several values use {\"$in\": [...]}")
        case .object(let operators):
            guard !operators.isEmpty else { throw invalid(path, "expected a value or an object of operators, got {}") }
            var conditions: [Filter] = []
            for (op, operand) in operators.members {
                guard op.hasPrefix("$") else {
                    throw invalid("\(path).\(op)", "expected an operator (\(fieldOperators.joined(separator: ", "))), got \"\(op)\"; to filter on a nested member use a dotted path: \"\(field).\(op)\"")
                }
                conditions.append(.condition(field, try condition(op, operand, path: "\(path).\(op)", terms: &terms)))
            }
            return conditions.count == 1 ? conditions[0] : .and(conditions)
        default:
            try count(1, path: path, terms: &terms)
            return .condition(field, .eq(FieldValue(value)))
        }
    }

    private static func condition(_ op: String, _ operand: JSONValue, path: String, terms: inout Int) throws(Problem) -> Condition {
        var n = 1
        if op == "$in" || op == "$nin", case .array(let members) = operand { n = max(1, members.count) }
        try count(n, path: path, terms: &terms)
        switch op {
        case "$eq": return .eq(try scalar(operand, path: path))
        case "$ne": return .ne(try scalar(operand, path: path))
        case "$gt": return .gt(try orderable(operand, path: path))
        case "$gte": return .gte(try orderable(operand, path: path))
        case "$lt": return .lt(try orderable(operand, path: path))
        case "$lte": return .lte(try orderable(operand, path: path))
        case "$in": return .in(Set(try scalars(operand, path: path)))
        case "$nin": return .nin(Set(try scalars(operand, path: path)))
        case "$exists":
            guard case .bool(let wanted) = operand else {
                throw invalid(path, "expected true or false, got \(operand.typeName)")
            }
            return .exists(wanted)
        default:
            throw invalid(path, "unknown operator \(op) (allowed: \(fieldOperators.joined(separator: ", ")))")
        }
    }

    /// `inList`: the value is an element of `$in`/`$nin`, where suggesting `$in` for an array makes no sense.
    private static func scalar(_ value: JSONValue, path: String, inList: Bool = false) throws(Problem) -> FieldValue {
        switch value {
        case .array:
            throw invalid(path, "expected a string, number, boolean or null, got array\(inList ? "" : "; to match any of several values use $in")")
        case .object:
            throw invalid(path, "expected a string, number, boolean or null, got object; to filter on a nested member use a dotted path")
        default:
            return FieldValue(value)
        }
    }

    private static func orderable(_ value: JSONValue, path: String) throws(Problem) -> FieldValue {
        switch value {
        case .number, .string: return FieldValue(value)
        default: throw invalid(path, "expected a number or a string to order by, got \(value.typeName)")
        }
    }

    private static func scalars(_ value: JSONValue, path: String) throws(Problem) -> [FieldValue] {
        guard case .array(let items) = value else {
            throw invalid(path, "expected an array of strings, numbers, booleans or nulls, got \(value.typeName)")
        }
        var operands: [FieldValue] = []
        operands.reserveCapacity(items.count)
        for (i, item) in items.enumerated() { operands.append(try scalar(item, path: "\(path)[\(i)]", inList: true)) }
        return operands
    }

    /// Adds `n` terms; past `maxTerms`, a 422 at `path` with the limit.
    private static func count(_ n: Int, path: String, terms: inout Int) throws(Problem) {
        terms += n
        guard terms > maxTerms else { return }
        var p = Problem.outOfRange(
            "\(path): the filter holds more than \(maxTerms) terms (a condition is one, a $in or $nin one per member, an $and or $or item one)",
            field: path)
        p.extra = [("limit", .number(JSONNumber(maxTerms)))]
        throw p
    }

    private static func invalid(_ path: String, _ detail: String) -> Problem {
        Problem.invalidRequest("\(path): \(detail)", field: path)
    }
}
