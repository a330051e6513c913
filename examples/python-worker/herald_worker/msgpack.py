"""A small MessagePack encoder (the subset JSON values need), for the Socket.IO Redis emitter format.
Debian has python3-msgpack, but this worker keeps to pika and redis."""
import struct


def packb(value) -> bytes:
    out = bytearray()
    _pack(value, out)
    return bytes(out)


def _pack(o, out: bytearray) -> None:
    if o is None:
        out.append(0xC0)
    elif o is True:
        out.append(0xC3)
    elif o is False:
        out.append(0xC2)
    elif isinstance(o, int):
        _int(o, out)
    elif isinstance(o, float):
        out += b"\xcb" + struct.pack(">d", o)
    elif isinstance(o, str):
        b = o.encode("utf-8")
        _head(len(b), out, 0xA0, 32, b"\xd9", b"\xda", b"\xdb")
        out += b
    elif isinstance(o, (bytes, bytearray)):
        _head(len(o), out, None, 0, b"\xc4", b"\xc5", b"\xc6")
        out += o
    elif isinstance(o, (list, tuple)):
        _head(len(o), out, 0x90, 16, None, b"\xdc", b"\xdd")
        for item in o:
            _pack(item, out)
    elif isinstance(o, dict):
        _head(len(o), out, 0x80, 16, None, b"\xde", b"\xdf")
        for k, v in o.items():
            _pack(str(k), out)
            _pack(v, out)
    else:
        raise TypeError(f"cannot encode {type(o).__name__} as MessagePack")


def _head(n: int, out: bytearray, fix, fix_limit: int, h8, h16, h32) -> None:
    if fix is not None and n < fix_limit:
        out.append(fix | n)
    elif h8 is not None and n < 0x100:
        out += h8 + struct.pack(">B", n)
    elif n < 0x10000:
        out += h16 + struct.pack(">H", n)
    else:
        out += h32 + struct.pack(">I", n)


def _int(n: int, out: bytearray) -> None:
    if 0 <= n < 0x80 or -32 <= n < 0:
        out += struct.pack(">b", n) if n < 0 else bytes([n])
    elif n >= 0:
        for code, fmt, limit in ((0xCC, ">B", 1 << 8), (0xCD, ">H", 1 << 16), (0xCE, ">I", 1 << 32), (0xCF, ">Q", 1 << 64)):
            if n < limit:
                out += bytes([code]) + struct.pack(fmt, n)
                return
        raise OverflowError(n)
    else:
        for code, fmt, bits in ((0xD0, ">b", 7), (0xD1, ">h", 15), (0xD2, ">i", 31), (0xD3, ">q", 63)):
            if n >= -(1 << bits):
                out += bytes([code]) + struct.pack(fmt, n)
                return
        raise OverflowError(n)
