extension Filter {
    /// True when `document` (a record's metadata object; nil: the record has none) passes the filter.
    public func matches(_ document: FieldValue?) -> Bool {
        switch self {
        case .and(let parts): return parts.allSatisfy { $0.matches(document) }
        case .or(let parts): return parts.contains { $0.matches(document) }
        case .not(let inner): return !inner.matches(document)
        case .condition(let path, let condition):
            return condition.matches(document?.value(at: path))
        }
    }
}

extension Condition {
    /// True when `value` (the value at the condition's path; nil: the path does not resolve) passes.
    public func matches(_ value: FieldValue?) -> Bool {
        switch self {
        case .exists(let wanted): return (value != nil) == wanted
        case .ne(let operand): return !Condition.eq(operand).matches(value)
        case .nin(let operands): return !Condition.in(operands).matches(value)
        default: break
        }
        guard let value else { return false }
        if case .array(let elements) = value {
            return elements.contains { matchesScalar($0) }
        }
        return matchesScalar(value)
    }

    private func matchesScalar(_ value: FieldValue) -> Bool {
        switch self {
        case .eq(let operand): return value == operand
        case .in(let operands): return value.isScalar && operands.contains(value)
        case .gt(let operand): return Self.order(value, operand).map { $0 > 0 } ?? false
        case .gte(let operand): return Self.order(value, operand).map { $0 >= 0 } ?? false
        case .lt(let operand): return Self.order(value, operand).map { $0 < 0 } ?? false
        case .lte(let operand): return Self.order(value, operand).map { $0 <= 0 } ?? false
        case .ne, .nin, .exists: return false  // handled in `matches`
        }
    }

    /// The order of two values of one orderable kind (numbers, strings); nil across kinds.
    static func order(_ a: FieldValue, _ b: FieldValue) -> Int? {
        if case .string(let x) = a, case .string(let y) = b {
            return x < y ? -1 : (x == y ? 0 : 1)
        }
        return FieldValue.compareNumbers(a, b)
    }
}
