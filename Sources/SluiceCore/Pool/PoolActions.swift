// PoolActions: the actions of one pool event, held inline up to two so that a checkout or a release allocates nothing.

extension PoolStateMachine {
    /// What one event asks the executor to do, in order. Most events answer with none, one or two
    /// actions (a checkout: "link"; a release: nothing, or "link" to the next waiter), so those are
    /// stored inline; only longer answers (a shutdown, a janitor pass closing several servers)
    /// use an array. The idea is postgres-nio's `TinyFastSequence`.
    struct Actions: Sequence, ExpressibleByArrayLiteral {
        fileprivate enum Storage {
            case none
            case one(Action)
            case two(Action, Action)
            case many([Action])
        }

        private var storage: Storage = .none

        init() {}

        init(arrayLiteral actions: Action...) {
            for action in actions { append(action) }
        }

        var isEmpty: Bool { if case .none = storage { return true }; return false }

        var count: Int {
            switch storage {
            case .none: return 0
            case .one: return 1
            case .two: return 2
            case .many(let actions): return actions.count
            }
        }

        mutating func append(_ action: Action) {
            switch storage {
            case .none:
                storage = .one(action)
            case .one(let first):
                storage = .two(first, action)
            case .two(let first, let second):
                storage = .many([first, second, action])
            case .many(var actions):
                storage = .none  // the array is uniquely referenced again: append in place
                actions.append(action)
                storage = .many(actions)
            }
        }

        mutating func append(contentsOf other: Actions) {
            for action in other { append(action) }
        }

        struct Iterator: IteratorProtocol {
            fileprivate let storage: Storage
            fileprivate var index = 0

            mutating func next() -> Action? {
                defer { index += 1 }
                switch storage {
                case .none: return nil
                case .one(let first): return index == 0 ? first : nil
                case .two(let first, let second): return index == 0 ? first : index == 1 ? second : nil
                case .many(let actions): return index < actions.count ? actions[index] : nil
                }
            }
        }

        func makeIterator() -> Iterator { Iterator(storage: storage) }
    }
}
