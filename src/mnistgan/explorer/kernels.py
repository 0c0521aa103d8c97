"""The explorer page's WebAssembly SIMD kernels, assembled here from instructions written by
their WebAssembly text names (`f32x4.mul`, not 0xFD 0xE6 0x01), so the page holds no binary
that this file does not spell out; `listing` prints them as WebAssembly text for review.

axpy<T>x<O>(q_1..q_O, a_1..a_T, w_11..w_OT, n): q_o[i] += sum over t of w_ot * a_t[i], for i
in 0..n floats, 4 at a time (byte addresses; n bytes, a multiple of 16). Every conv tap and
linear row of the page's forward pass is one: 4 taps of a transposed conv's phase, into 1 or
2 output channels (2 read each input once for both), or 1 (a linear row, a 3x3 conv's 9th
tap). In plain JavaScript a 10x10 grid of the default G costs several times more
(docs/design.md).
"""

KERNEL_SHAPES = {"axpy4": (4, 1), "axpy4x2": (4, 2), "axpy1": (1, 1)}  # name: (taps, outputs)

# value types, as the binary format writes them
I32, F32, V128 = 0x7F, 0x7D, 0x7B
FUNC_TYPE = 0x60  # a function type: its params, then its results
EMPTY_BLOCK = 0x40  # a block or loop that leaves nothing on the stack
SECTIONS = {"type": 1, "function": 3, "memory": 5, "export": 7, "code": 10}
EXPORT_FUNC, EXPORT_MEMORY = 0x00, 0x02
MEMORY_MIN_ONLY = 0x00  # memory limits: a minimum, no maximum
SIMD = 0xFD  # the prefix of every SIMD instruction; its number follows as LEB128


def leb(n: int) -> bytes:
    """Unsigned LEB128, as WebAssembly writes every count and index."""
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def sleb(n: int) -> bytes:
    """Signed LEB128, as i32.const writes its value."""
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        done = (n == 0 and not byte & 0x40) or (n == -1 and byte & 0x40)
        out.append(byte | (0 if done else 0x80))
        if done:
            return bytes(out)


# Every instruction the kernels use: its WebAssembly text name, its opcode bytes (the spec's
# instruction index), and the immediates that follow it.
OPCODES: dict[str, tuple[bytes, str]] = {
    "block": (b"\x02", "blocktype"),
    "loop": (b"\x03", "blocktype"),
    "end": (b"\x0b", ""),
    "br": (b"\x0c", "label"),
    "br_if": (b"\x0d", "label"),
    "local.get": (b"\x20", "local"),
    "local.set": (b"\x21", "local"),
    "i32.const": (b"\x41", "i32"),
    "i32.ge_u": (b"\x4f", ""),
    "i32.add": (b"\x6a", ""),
    "v128.load": (bytes([SIMD]) + leb(0x00), "memarg"),
    "v128.store": (bytes([SIMD]) + leb(0x0B), "memarg"),
    "f32x4.splat": (bytes([SIMD]) + leb(0x13), ""),
    "f32x4.add": (bytes([SIMD]) + leb(0xE4), ""),
    "f32x4.mul": (bytes([SIMD]) + leb(0xE6), ""),
}
Instruction = tuple  # (name, *immediates): ("local.get", 3), ("f32x4.mul",)


def encode(ins: Instruction) -> bytes:
    name, *args = ins
    opcode, kind = OPCODES[name]
    if kind == "blocktype":
        return opcode + bytes([EMPTY_BLOCK])
    if kind in ("label", "local"):
        return opcode + leb(args[0])
    if kind == "i32":
        return opcode + sleb(args[0])
    if kind == "memarg":  # alignment as a power of 2, then the offset
        return opcode + leb(args[0]) + leb(args[1])
    assert not args, ins
    return opcode


def text(ins: Instruction) -> str:
    """The instruction as WebAssembly text writes it."""
    name, *args = ins
    if OPCODES[name][1] == "memarg":
        return f"{name} offset={args[1]} align={2 ** args[0]}"
    return " ".join([name, *map(str, args)])


def axpy(taps: int, outs: int) -> tuple[list[int], list[tuple[int, int]], list[Instruction]]:
    """A kernel: its param types, its locals as (count, type) runs, and its code. Params
    q_1..q_outs, a_1..a_taps, the weights, n; locals i, the weights splatted to 4 lanes, and
    the 4 lanes of each a_t read at i."""
    params = [I32] * (outs + taps) + [F32] * (outs * taps) + [I32]
    weights = outs + taps  # index of the first weight param
    n = weights + outs * taps
    i, v = n + 1, n + 2  # i, then the splatted weights, then the loaded a_t
    x = v + outs * taps
    code: list[Instruction] = []
    for k in range(outs * taps):  # each weight in 4 lanes, once
        code += [("local.get", weights + k), ("f32x4.splat",), ("local.set", v + k)]
    step: list[Instruction] = []
    for t in range(taps):  # a_t[i .. i + 4]
        step += [("local.get", outs + t), ("local.get", i), ("i32.add",)]
        step += [("v128.load", 0, 0), ("local.set", x + t)]
    for o in range(outs):
        step += [("local.get", o), ("local.get", i), ("i32.add",)]  # q_o + i, the address written
        step += [("local.get", o), ("local.get", i), ("i32.add",), ("v128.load", 0, 0)]
        for t in range(taps):  # + w_ot * a_t[i]
            step += [("local.get", x + t), ("local.get", v + o * taps + t)]
            step += [("f32x4.mul",), ("f32x4.add",)]
        step += [("v128.store", 0, 0)]
    step += [("local.get", i), ("i32.const", 16), ("i32.add",), ("local.set", i)]  # i += 16 bytes
    code += [("block",), ("loop",)]  # until i >= n: break out of the block, else loop again
    code += [("local.get", i), ("local.get", n), ("i32.ge_u",), ("br_if", 1)]
    code += step + [("br", 0), ("end",), ("end",), ("end",)]
    return params, [(1, I32), (outs * taps + taps, V128)], code


def vec(items: list[bytes]) -> bytes:
    return leb(len(items)) + b"".join(items)


def section(name: str, items: list[bytes]) -> bytes:
    body = vec(items)
    return bytes([SECTIONS[name]]) + leb(len(body)) + body


def body(locals_: list[tuple[int, int]], code: list[Instruction]) -> bytes:
    out = vec([leb(count) + bytes([kind]) for count, kind in locals_])
    out += b"".join(encode(ins) for ins in code)
    return leb(len(out)) + out


def kernels() -> bytes:
    """The WebAssembly module: memory 0 exported as `mem`, then the KERNEL_SHAPES."""
    funcs = [axpy(taps, outs) for taps, outs in KERNEL_SHAPES.values()]
    name = lambda s: leb(len(s)) + s.encode()  # noqa: E731
    exports = [name("mem") + bytes([EXPORT_MEMORY]) + leb(0)]
    exports += [name(k) + bytes([EXPORT_FUNC]) + leb(j) for j, k in enumerate(KERNEL_SHAPES)]
    return (
        b"\x00asm\x01\x00\x00\x00"  # magic, version 1
        + section(
            "type",
            [bytes([FUNC_TYPE]) + vec([bytes([t]) for t in p]) + vec([]) for p, _, _ in funcs],
        )
        + section("function", [leb(j) for j in range(len(funcs))])  # function j has type j
        + section(
            "memory", [bytes([MEMORY_MIN_ONLY]) + leb(1)]
        )  # 1 page at first; the page grows it
        + section("export", exports)
        + section("code", [body(locals_, code) for _, locals_, code in funcs])
    )


def listing() -> str:
    """The kernels as WebAssembly text (a reviewer's view of what `kernels` assembles)."""
    names = {I32: "i32", F32: "f32", V128: "v128"}
    out = ["(module", '  (memory (export "mem") 1)']
    for k, (taps, outs) in KERNEL_SHAPES.items():
        params, locals_, code = axpy(taps, outs)
        out.append(f'  (func (export "{k}") (param {" ".join(names[p] for p in params)})')
        out.append(f"    (local {' '.join(names[t] for c, t in locals_ for _ in range(c))})")
        depth = 2
        for ins in code[:-1]:  # the function's own end closes the func
            depth -= ins[0] == "end"
            out.append("  " * depth + text(ins))
            depth += ins[0] in ("block", "loop")
        out[-1] += ")"
    return "\n".join(out) + ")\n"
