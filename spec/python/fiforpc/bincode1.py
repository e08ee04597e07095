"""The ``bincode1`` body encoding (spec §10.1): bincode 1.3, fixed-width little-endian integers.

A value is the concatenation of its parts, with no padding, no alignment and no type tags. The
layout is driven by a *schema*, because the octets do not describe themselves::

    >>> encode(STRING, "hi").hex()
    '02000000000000006869'
    >>> encode(Option(U32), 7).hex()
    '0107000000'
    >>> decode(Struct(("id", U16), ("name", STRING)), bytes.fromhex("0500" "0100000000000000" "61"))
    {'id': 5, 'name': 'a'}

=======================  ===========================================================
schema                   layout
=======================  ===========================================================
U8 .. U128, I8 .. I128   1, 2, 4, 8, 16 octets, little-endian (two's complement)
F32, F64                 IEEE 754 binary32 / binary64, little-endian
BOOL                     ``00`` false, ``01`` true, anything else is an error
CHAR                     its UTF-8 encoding, no length
STRING                   length as u64, then UTF-8 octets
BYTES                    length as u64, then the octets
UNIT                     nothing
Array(T, n), Tuple(...)  the elements in order, no length
Seq(T)                   count as u64, then the elements
Map(K, V)                count as u64, then key, value, key, value ...
Option(T)                ``00`` for None; ``01`` then T
Struct((name, T), ...)   the fields in declaration order, no names (value: a dict)
Enum((name, T), ...)     variant index as u32, then the variant's fields (value: (index, v))
=======================  ===========================================================

Decoding rejects octets left over after the value and never trusts a declared length beyond the
octets available (FR-ENC-1).
"""

import struct


class DecodeError(ValueError):
    """The body does not hold a value of the schema (FR-ENC-1)."""


class _In:
    def __init__(self, data):
        self.data = memoryview(bytes(data))
        self.pos = 0

    def left(self):
        return len(self.data) - self.pos

    def take(self, n, what):
        if n > self.left():
            raise DecodeError("%s needs %d octets, %d left" % (what, n, self.left()))
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out


class Schema:
    """Base of every schema: ``put(value, out)`` appends, ``get(inp)`` reads, ``min_size``."""

    min_size = 0

    def put(self, value, out):
        raise NotImplementedError

    def get(self, inp):
        raise NotImplementedError


class _Int(Schema):
    def __init__(self, size, signed, name):
        self.size, self.signed, self.name = size, signed, name
        self.min_size = size

    def put(self, value, out):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("%s needs an int, got %r" % (self.name, value))
        try:
            out += value.to_bytes(self.size, "little", signed=self.signed)
        except OverflowError:
            raise ValueError("%d does not fit in %s" % (value, self.name)) from None

    def get(self, inp):
        return int.from_bytes(inp.take(self.size, self.name), "little", signed=self.signed)

    def __repr__(self):
        return self.name


U8, U16, U32, U64, U128 = (_Int(n, False, "u%d" % (8 * n)) for n in (1, 2, 4, 8, 16))
I8, I16, I32, I64, I128 = (_Int(n, True, "i%d" % (8 * n)) for n in (1, 2, 4, 8, 16))


class _Float(Schema):
    def __init__(self, fmt, name):
        self.fmt, self.name = struct.Struct(fmt), name
        self.min_size = self.fmt.size

    def put(self, value, out):
        out += self.fmt.pack(value)

    def get(self, inp):
        return self.fmt.unpack(inp.take(self.fmt.size, self.name))[0]


F32, F64 = _Float("<f", "f32"), _Float("<d", "f64")


class _Bool(Schema):
    min_size = 1

    def put(self, value, out):
        out.append(1 if value else 0)

    def get(self, inp):
        b = inp.take(1, "bool")[0]
        if b > 1:
            raise DecodeError("bool octet 0x%02x is neither 00 nor 01" % b)
        return b == 1


BOOL = _Bool()


class _Unit(Schema):
    def put(self, value, out):
        pass

    def get(self, inp):
        return None


UNIT = _Unit()


def _length(inp, what, min_size, max_items):
    n = U64.get(inp)
    # FR-ENC-1: a declared length is bounded by the octets that are really there.
    if min_size:
        if n > inp.left() // min_size:
            raise DecodeError("%s declares %d items, only %d octets left" % (what, n, inp.left()))
    elif n > max_items:
        raise DecodeError("%s declares %d zero-sized items, more than %d" % (what, n, max_items))
    return n


class _Char(Schema):
    min_size = 1

    def put(self, value, out):
        if not isinstance(value, str) or len(value) != 1:
            raise TypeError("char needs a one-character str")
        out += value.encode("utf-8")

    def get(self, inp):
        first = inp.take(1, "char")[0]
        n = 1 if first < 0x80 else 2 if first >> 5 == 6 else 3 if first >> 4 == 14 else 4
        raw = bytes([first]) + bytes(inp.take(n - 1, "char"))
        try:
            s = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError("char %s is not UTF-8" % raw.hex()) from None
        if len(s) != 1:
            raise DecodeError("char %s is not one character" % raw.hex())
        return s


CHAR = _Char()


class _Bytes(Schema):
    min_size = 8

    def put(self, value, out):
        U64.put(len(value), out)
        out += value

    def get(self, inp):
        n = _length(inp, "byte array", 1, 0)
        return bytes(inp.take(n, "byte array"))


class _String(_Bytes):
    def put(self, value, out):
        super().put(value.encode("utf-8"), out)

    def get(self, inp):
        raw = super().get(inp)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError("string is not valid UTF-8") from None


BYTES = _Bytes()
STRING = _String()


class Option(Schema):
    min_size = 1

    def __init__(self, inner):
        self.inner = inner

    def put(self, value, out):
        if value is None:
            out.append(0)
        else:
            out.append(1)
            self.inner.put(value, out)

    def get(self, inp):
        tag = inp.take(1, "option tag")[0]
        if tag == 0:
            return None
        if tag == 1:
            return self.inner.get(inp)
        raise DecodeError("option tag 0x%02x is neither 00 nor 01" % tag)


class Seq(Schema):
    """``Vec<T>``: a u64 count, then the elements. ``max_items`` bounds zero-sized elements."""

    min_size = 8

    def __init__(self, inner, max_items=1 << 20):
        self.inner, self.max_items = inner, max_items

    def put(self, value, out):
        U64.put(len(value), out)
        for v in value:
            self.inner.put(v, out)

    def get(self, inp):
        n = _length(inp, "sequence", self.inner.min_size, self.max_items)
        return [self.inner.get(inp) for _ in range(n)]


class Map(Schema):
    min_size = 8

    def __init__(self, key, value, max_items=1 << 20):
        self.key, self.value, self.max_items = key, value, max_items

    def put(self, value, out):
        U64.put(len(value), out)
        for k, v in value.items():
            self.key.put(k, out)
            self.value.put(v, out)

    def get(self, inp):
        n = _length(inp, "map", self.key.min_size + self.value.min_size, self.max_items)
        out = {}
        for _ in range(n):
            k = self.key.get(inp)
            out[k] = self.value.get(inp)
        return out


class Tuple(Schema):
    """A tuple, tuple struct or fixed-size array: the elements in order, no length."""

    def __init__(self, *items):
        self.items = items
        self.min_size = sum(i.min_size for i in items)

    def put(self, value, out):
        if len(value) != len(self.items):
            raise ValueError("tuple of %d needs %d values" % (len(self.items), len(value)))
        for schema, v in zip(self.items, value):
            schema.put(v, out)

    def get(self, inp):
        return tuple(schema.get(inp) for schema in self.items)


def Array(inner, n):
    """``[T; N]``: N elements, no length."""
    return Tuple(*([inner] * n))


class Struct(Schema):
    """A struct: its fields in declaration order, without names. Values are dicts."""

    def __init__(self, *fields):
        self.fields = fields
        self.min_size = sum(s.min_size for _, s in fields)

    def put(self, value, out):
        for name, schema in self.fields:
            schema.put(value[name], out)

    def get(self, inp):
        return {name: schema.get(inp) for name, schema in self.fields}


class Enum(Schema):
    """An enum: variant index as u32 (0 for the first), then the variant's fields.

    Variants are ``(name, schema)``; use UNIT for a unit variant and Tuple/Struct for the others.
    Values are ``(index, value)``.
    """

    min_size = 4

    def __init__(self, *variants):
        self.variants = variants

    def put(self, value, out):
        index, inner = value
        U32.put(index, out)
        self.variants[index][1].put(inner, out)

    def get(self, inp):
        index = U32.get(inp)
        if index >= len(self.variants):
            raise DecodeError("enum variant %d of %d" % (index, len(self.variants)))
        return index, self.variants[index][1].get(inp)


def encode(schema, value) -> bytes:
    out = bytearray()
    schema.put(value, out)
    return bytes(out)


def decode(schema, data):
    """Decodes one value and rejects octets left over (FR-ENC-1)."""
    inp = _In(data)
    value = schema.get(inp)
    if inp.left():
        raise DecodeError("%d octets left over after the value" % inp.left())
    return value
