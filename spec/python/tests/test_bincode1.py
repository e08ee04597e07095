"""The bincode1 layout of spec §10.1 and the decoder's bounds (FR-ENC-1)."""

import unittest

from fiforpc import bincode1 as B


def h(text):
    return bytes.fromhex(text.replace(" ", ""))


class LayoutTest(unittest.TestCase):
    def check(self, schema, value, hexdump):
        data = h(hexdump)
        self.assertEqual(B.encode(schema, value).hex(), data.hex())
        self.assertEqual(B.decode(schema, data), value)

    def test_unsigned(self):
        self.check(B.U8, 0xAB, "ab")
        self.check(B.U16, 0x0102, "0201")
        self.check(B.U32, 0x01020304, "04030201")
        self.check(B.U64, 0x0102030405060708, "0807060504030201")
        self.check(B.U128, 1, "01" + "00" * 15)

    def test_signed_twos_complement(self):
        self.check(B.I8, -1, "ff")
        self.check(B.I16, -2, "feff")
        self.check(B.I32, -1, "ffffffff")
        self.check(B.I64, -(2 ** 63), "0000000000000080")

    def test_floats(self):
        self.check(B.F32, 1.5, "0000c03f")
        self.check(B.F64, -2.0, "00000000000000c0")

    def test_bool(self):
        self.check(B.BOOL, False, "00")
        self.check(B.BOOL, True, "01")
        with self.assertRaises(B.DecodeError):
            B.decode(B.BOOL, h("02"))

    def test_char(self):
        self.check(B.CHAR, "a", "61")
        self.check(B.CHAR, "é", "c3a9")
        self.check(B.CHAR, "😀", "f09f9880")

    def test_string_example(self):  # §10.1 example
        self.check(B.STRING, "hi", "02 00 00 00 00 00 00 00 68 69")
        self.check(B.STRING, "", "0000000000000000")

    def test_bytes(self):
        self.check(B.BYTES, b"\x00\xff", "0200000000000000 00ff")

    def test_option_example(self):  # §10.1 example
        self.check(B.Option(B.U32), 7, "01 07 00 00 00")
        self.check(B.Option(B.U32), None, "00")
        with self.assertRaises(B.DecodeError):
            B.decode(B.Option(B.U32), h("02"))

    def test_sequence(self):
        self.check(B.Seq(B.U16), [1, 2], "0200000000000000 0100 0200")
        self.check(B.Seq(B.STRING), [], "0000000000000000")

    def test_map(self):
        self.check(B.Map(B.U8, B.BOOL), {1: True}, "0100000000000000 01 01")

    def test_tuple_and_array(self):
        self.check(B.Tuple(B.U8, B.STRING), (1, "a"), "01 0100000000000000 61")
        self.check(B.Array(B.U8, 3), (1, 2, 3), "010203")

    def test_struct_fields_in_order_without_names(self):
        schema = B.Struct(("id", B.U32), ("name", B.STRING), ("tags", B.Seq(B.U8)))
        self.check(schema, {"id": 5, "name": "x", "tags": [9]},
                   "05000000 0100000000000000 78 0100000000000000 09")

    def test_unit(self):
        self.check(B.UNIT, None, "")

    def test_enum_variant_index(self):
        schema = B.Enum(("Quit", B.UNIT), ("Move", B.Tuple(B.I32, B.I32)),
                        ("Say", B.Struct(("text", B.STRING))))
        self.check(schema, (0, None), "00000000")
        self.check(schema, (1, (-1, 2)), "01000000 ffffffff 02000000")
        self.check(schema, (2, {"text": "a"}), "02000000 0100000000000000 61")
        with self.assertRaises(B.DecodeError):
            B.decode(schema, h("03000000"))


class BoundsTest(unittest.TestCase):  # FR-ENC-1
    def test_trailing_octets_rejected(self):
        with self.assertRaises(B.DecodeError):
            B.decode(B.U8, h("0100"))
        with self.assertRaises(B.DecodeError):
            B.decode(B.STRING, h("0100000000000000 61 62"))

    def test_declared_length_beyond_body(self):
        with self.assertRaises(B.DecodeError):
            B.decode(B.STRING, h("ffffffffffffffff 61"))
        with self.assertRaises(B.DecodeError):
            B.decode(B.Seq(B.U32), h("0300000000000000 01000000"))

    def test_zero_sized_elements_bounded(self):
        with self.assertRaises(B.DecodeError):
            B.decode(B.Seq(B.UNIT), h("ffffffffffffffff"))
        self.assertEqual(B.decode(B.Seq(B.UNIT), h("0200000000000000")), [None, None])

    def test_short_input(self):
        with self.assertRaises(B.DecodeError):
            B.decode(B.U32, h("010203"))

    def test_invalid_utf8(self):
        with self.assertRaises(B.DecodeError):
            B.decode(B.STRING, h("0100000000000000 ff"))

    def test_encode_range_checked(self):
        with self.assertRaises(ValueError):
            B.encode(B.U8, 256)
        with self.assertRaises(TypeError):
            B.encode(B.U8, True)


if __name__ == "__main__":
    unittest.main()
