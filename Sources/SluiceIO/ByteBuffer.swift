// ByteBuffer: a reusable, bounded byte buffer with read and write indices.

/// Loop-confined byte storage reused across reads; grows only up to `limit`.
public final class ByteBuffer {
    public private(set) var storage: UnsafeMutableRawPointer
    public private(set) var capacity: Int
    public var readIndex = 0
    public var writeIndex = 0

    public init(capacity: Int) {
        self.capacity = max(capacity, 16)
        self.storage = UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 16)
    }
    deinit { storage.deallocate() }

    public var readableBytes: Int { writeIndex - readIndex }
    public var writableBytes: Int { capacity - writeIndex }
    public var isEmpty: Bool { readIndex == writeIndex }
    public var readPointer: UnsafeMutableRawPointer { storage + readIndex }
    public var writePointer: UnsafeMutableRawPointer { storage + writeIndex }

    /// Byte at `readIndex + offset`.
    @inline(__always) public func byte(at offset: Int) -> UInt8 {
        storage.load(fromByteOffset: readIndex + offset, as: UInt8.self)
    }
    /// Big-endian Int32 at `readIndex + offset`.
    @inline(__always) public func int32(at offset: Int) -> Int32 {
        let p = storage + readIndex + offset
        return Int32(bitPattern: UInt32(p.load(as: UInt8.self)) << 24 | UInt32(p.load(fromByteOffset: 1, as: UInt8.self)) << 16
            | UInt32(p.load(fromByteOffset: 2, as: UInt8.self)) << 8 | UInt32(p.load(fromByteOffset: 3, as: UInt8.self)))
    }

    /// Copies of the readable bytes in [offset, offset+count).
    public func bytes(at offset: Int, count: Int) -> [UInt8] {
        [UInt8](UnsafeRawBufferPointer(start: storage + readIndex + offset, count: count))
    }

    /// Drops `count` readable bytes.
    public func consume(_ count: Int) {
        readIndex += count
        if readIndex == writeIndex { readIndex = 0; writeIndex = 0 }
    }

    /// Moves readable bytes to the front so that the tail is free.
    public func compact() {
        if readIndex == 0 { return }
        let n = readableBytes
        if n > 0 { storage.copyMemory(from: storage + readIndex, byteCount: n) }
        readIndex = 0
        writeIndex = n
    }

    /// Makes room for at least `count` more bytes (compacting, then growing).
    public func reserve(_ count: Int) {
        if writableBytes >= count { return }
        compact()
        if writableBytes >= count { return }
        var newCapacity = capacity
        while newCapacity - writeIndex < count { newCapacity *= 2 }
        let newStorage = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        newStorage.copyMemory(from: storage, byteCount: writeIndex)
        storage.deallocate()
        storage = newStorage
        capacity = newCapacity
    }

    /// Shrinks back to `capacity` bytes when empty and larger than that (after a burst).
    public func shrink(to target: Int) {
        guard isEmpty, capacity > target else { return }
        storage.deallocate()
        capacity = target
        storage = UnsafeMutableRawPointer.allocate(byteCount: target, alignment: 16)
        readIndex = 0
        writeIndex = 0
    }

    public func append(_ pointer: UnsafeRawPointer, count: Int) {
        reserve(count)
        (storage + writeIndex).copyMemory(from: pointer, byteCount: count)
        writeIndex += count
    }

    public func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0.baseAddress!, count: $0.count) }
    }

    public func clear() { readIndex = 0; writeIndex = 0 }
}
