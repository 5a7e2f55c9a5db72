"""SBE schema reader: parses an SBE XML message schema into a small IR.

Python 3 standard library only. The layout rules follow what the reference
SBE tool does with the schemas of this project (see ../../docs/CODECS.md and
the spec ERRATA):

* field-level ``nullValue``, ``length``, ``minValue`` and ``maxValue`` are not
  SBE attributes and are ignored (only ``<type>`` carries them);
* fields are laid out sequentially unless an ``offset`` attribute is given;
  a message or group ``blockLength`` attribute pads the block up to it;
* a field whose type is a composite with a variable-length member (an array of
  length 0, such as ``varAsciiEncoding``) takes no bytes in the block and has
  no accessor (the reference tool's reading of the discovery ``tags`` groups);
* ``<message>`` is accepted with and without the ``sbe:`` prefix.
"""

import re
import xml.etree.ElementTree as ET

SBE_NS = "http://fixprotocol.io/2016/sbe"


class SchemaError(Exception):
    pass


class Primitive:
    def __init__(self, name, ctype, size, null, minv, maxv, signed, is_float=False):
        self.name = name
        self.ctype = ctype
        self.size = size
        self.null = null  # python value (int) or None for NaN
        self.min = minv
        self.max = maxv
        self.signed = signed
        self.is_float = is_float


PRIMITIVES = {
    "char": Primitive("char", "char", 1, 0, 0x20, 0x7E, False),
    "int8": Primitive("int8", "int8_t", 1, -128, -127, 127, True),
    "uint8": Primitive("uint8", "uint8_t", 1, 0xFF, 0, 0xFE, False),
    "int16": Primitive("int16", "int16_t", 2, -32768, -32767, 32767, True),
    "uint16": Primitive("uint16", "uint16_t", 2, 0xFFFF, 0, 0xFFFE, False),
    "int32": Primitive("int32", "int32_t", 4, -(2**31), -(2**31) + 1, 2**31 - 1, True),
    "uint32": Primitive("uint32", "uint32_t", 4, 2**32 - 1, 0, 2**32 - 2, False),
    "int64": Primitive("int64", "int64_t", 8, -(2**63), -(2**63) + 1, 2**63 - 1, True),
    "uint64": Primitive("uint64", "uint64_t", 8, 2**64 - 1, 0, 2**64 - 2, False),
    "float": Primitive("float", "float", 4, None, None, None, True, True),
    "double": Primitive("double", "double", 8, None, None, None, True, True),
}


def snake(name):
    """camelCase / PascalCase to snake_case (acronym aware)."""
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    return s.replace("-", "_").lower()


def parse_int(text, prim=None):
    text = text.strip()
    if prim is not None and prim.name == "char" and len(text) == 1 and not text.isdigit():
        return ord(text)
    if text.lower().startswith("0x"):
        return int(text, 16)
    return int(text)


class EncodedType:
    """A <type>: a primitive, possibly an array, optional or constant."""

    kind = "type"

    def __init__(self, name, prim, length=1, presence="required", null=None, minv=None, maxv=None,
                 char_encoding=None, const_value=None):
        self.name = name
        self.prim = prim
        self.length = length
        self.presence = presence
        self.null = prim.null if null is None else null
        self.min = minv
        self.max = maxv
        self.char_encoding = char_encoding
        self.const_value = const_value

    @property
    def size(self):
        if self.presence == "constant":
            return 0
        return self.prim.size * self.length

    @property
    def is_var_length(self):
        return self.length == 0


class EnumType:
    kind = "enum"

    def __init__(self, name, prim, values):
        self.name = name
        self.prim = prim
        self.values = values  # list of (name, int)
        self.null = prim.null

    @property
    def size(self):
        return self.prim.size

    is_var_length = False


class SetType:
    kind = "set"

    def __init__(self, name, prim, choices):
        self.name = name
        self.prim = prim
        self.choices = choices  # list of (name, bit)

    @property
    def size(self):
        return self.prim.size

    is_var_length = False


class CompositeType:
    kind = "composite"

    def __init__(self, name, members):
        self.name = name
        self.members = members  # list of (name, type, offset)

    @property
    def is_var_length(self):
        return any(t.is_var_length for (_, t, _) in self.members)

    @property
    def size(self):
        if self.is_var_length:
            return 0
        end = 0
        for (_, t, off) in self.members:
            end = max(end, off + t.size)
        return end

    def member(self, name):
        for (n, t, off) in self.members:
            if n == name:
                return t, off
        return None, None


class Field:
    def __init__(self, name, fid, type_, offset, presence, value_ref=None, since=0):
        self.name = name
        self.id = fid
        self.type = type_
        self.offset = offset
        self.presence = presence
        self.value_ref = value_ref
        self.since = since

    @property
    def size(self):
        if self.presence == "constant":
            return 0
        return self.type.size

    @property
    def is_constant(self):
        return self.presence == "constant" or getattr(self.type, "presence", None) == "constant"

    @property
    def has_accessor(self):
        # Reference-tool quirk: a variable-length composite as a fixed field is unusable.
        return not (self.type.kind == "composite" and self.type.is_var_length)


class Data:
    def __init__(self, name, did, composite):
        self.name = name
        self.id = did
        self.composite = composite
        len_t, _ = composite.member("length")
        var_t, var_off = composite.member("varData")
        if len_t is None or var_t is None:
            raise SchemaError("var-data type %s needs 'length' and 'varData' members" % composite.name)
        self.length_prim = len_t.prim
        self.length_size = len_t.prim.size
        self.max_length = len_t.max if len_t.max is not None else len_t.prim.max
        if len_t.max is not None and len_t.max > (2**32 - 1):
            raise SchemaError("var-data length over 32 bits is not supported")
        self.is_ascii = var_t.char_encoding is not None or var_t.prim.name == "char"
        self.header_size = var_off if var_off is not None else self.length_size


class Group:
    def __init__(self, name, gid, dimension, block_length, fields, groups, datas):
        self.name = name
        self.id = gid
        self.dimension = dimension
        self.block_length = block_length
        self.fields = fields
        self.groups = groups
        self.datas = datas
        bl_t, bl_off = dimension.member("blockLength")
        n_t, n_off = dimension.member("numInGroup")
        if bl_t is None or n_t is None:
            raise SchemaError("group dimension %s needs blockLength and numInGroup" % dimension.name)
        self.bl_prim, self.bl_off = bl_t.prim, bl_off
        self.n_prim, self.n_off = n_t.prim, n_off
        self.header_size = dimension.size


class Message:
    def __init__(self, name, mid, block_length, fields, groups, datas, declared_block_length):
        self.name = name
        self.id = mid
        self.block_length = block_length
        self.fields = fields
        self.groups = groups
        self.datas = datas
        self.declared_block_length = declared_block_length


class Schema:
    def __init__(self):
        self.package = None
        self.id = None
        self.version = 0
        self.semantic_version = None
        self.byte_order = "littleEndian"
        self.types = {}
        self.header = None
        self.messages = []


def _local(tag):
    return tag.split("}", 1)[1] if "}" in tag else tag


def _children(elem, name):
    return [c for c in elem if _local(c.tag) == name]


class _Parser:
    def __init__(self, root):
        self.root = root
        self.schema = Schema()
        self.raw_types = {}

    def run(self):
        root = self.root
        if _local(root.tag) != "messageSchema":
            raise SchemaError("root element must be messageSchema")
        s = self.schema
        s.package = root.get("package")
        s.id = int(root.get("id"))
        s.version = int(root.get("version", "0"))
        s.semantic_version = root.get("semanticVersion")
        s.byte_order = root.get("byteOrder", "littleEndian")
        if s.byte_order != "littleEndian":
            raise SchemaError("only littleEndian schemas are supported")
        for types in _children(root, "types"):
            for t in types:
                name = t.get("name")
                if name is None:
                    continue
                if name in self.raw_types:
                    raise SchemaError("duplicate type %s" % name)
                self.raw_types[name] = t
        for name in list(self.raw_types):
            self.resolve(name)
        header_name = root.get("headerType", "messageHeader")
        s.header = self.resolve(header_name)
        for (member, width) in (("blockLength", 2), ("templateId", 2), ("schemaId", 2), ("version", 2)):
            t, off = s.header.member(member)
            if t is None or t.size != width:
                raise SchemaError("message header must have uint16 %s" % member)
        if s.header.size != 8:
            raise SchemaError("message header must be 8 bytes")
        for m in root:
            if _local(m.tag) == "message":
                s.messages.append(self.message(m))
        ids = [m.id for m in s.messages]
        if len(ids) != len(set(ids)):
            raise SchemaError("duplicate message template id")
        return s

    def resolve(self, name):
        if name in self.schema.types:
            return self.schema.types[name]
        if name in PRIMITIVES:
            return EncodedType(name, PRIMITIVES[name])
        elem = self.raw_types.get(name)
        if elem is None:
            raise SchemaError("unknown type %s" % name)
        t = self.build(elem)
        self.schema.types[name] = t
        return t

    def build(self, elem):
        kind = _local(elem.tag)
        name = elem.get("name")
        if kind == "type":
            prim = PRIMITIVES.get(elem.get("primitiveType"))
            if prim is None:
                raise SchemaError("type %s: unknown primitiveType %s" % (name, elem.get("primitiveType")))
            presence = elem.get("presence", "required")
            length = int(elem.get("length", "1"))
            null = parse_int(elem.get("nullValue"), prim) if elem.get("nullValue") is not None else None
            minv = parse_int(elem.get("minValue"), prim) if elem.get("minValue") is not None else None
            maxv = parse_int(elem.get("maxValue"), prim) if elem.get("maxValue") is not None else None
            const_value = None
            if presence == "constant":
                text = (elem.text or "").strip()
                if prim.name == "char" and length > 1:
                    const_value = text
                else:
                    const_value = parse_int(text, prim)
            return EncodedType(name, prim, length, presence, null, minv, maxv, elem.get("characterEncoding"),
                               const_value)
        if kind == "enum":
            enc = elem.get("encodingType")
            prim = PRIMITIVES.get(enc)
            if prim is None:
                prim = self.resolve(enc).prim
            values = [(v.get("name"), parse_int(v.text, prim)) for v in _children(elem, "validValue")]
            return EnumType(name, prim, values)
        if kind == "set":
            enc = elem.get("encodingType")
            prim = PRIMITIVES.get(enc)
            if prim is None:
                prim = self.resolve(enc).prim
            choices = [(c.get("name"), int(c.text.strip())) for c in _children(elem, "choice")]
            for (_, bit) in choices:
                if bit >= prim.size * 8:
                    raise SchemaError("set %s: bit %d does not fit" % (name, bit))
            return SetType(name, prim, choices)
        if kind == "composite":
            members = []
            offset = 0
            for c in elem:
                ck = _local(c.tag)
                if ck == "ref":
                    t = self.resolve(c.get("type"))
                elif ck in ("type", "enum", "set", "composite"):
                    t = self.build(c)
                else:
                    continue
                if c.get("offset") is not None:
                    offset = int(c.get("offset"))
                members.append((c.get("name"), t, offset))
                offset += t.size
            return CompositeType(name, members)
        raise SchemaError("unsupported type element %s" % kind)

    def field_type(self, fe):
        tname = fe.get("type")
        return self.resolve(tname)

    def fields_and_more(self, elem, what):
        fields, groups, datas = [], [], []
        offset = 0
        seen_group_or_data = False
        for c in elem:
            ck = _local(c.tag)
            if ck == "field":
                if seen_group_or_data:
                    raise SchemaError("%s: field %s after a group or data" % (what, c.get("name")))
                t = self.field_type(c)
                presence = c.get("presence") or getattr(t, "presence", "required") or "required"
                if getattr(t, "presence", None) == "constant":
                    presence = "constant"
                if c.get("offset") is not None:
                    off = int(c.get("offset"))
                    if off < offset:
                        raise SchemaError("%s: field %s offset overlaps" % (what, c.get("name")))
                    offset = off
                f = Field(c.get("name"), int(c.get("id")), t, offset, presence, c.get("valueRef"),
                          int(c.get("sinceVersion", "0")))
                offset += f.size
                fields.append(f)
            elif ck == "group":
                if datas:
                    raise SchemaError("%s: group %s after data" % (what, c.get("name")))
                seen_group_or_data = True
                groups.append(self.group(c))
            elif ck == "data":
                seen_group_or_data = True
                t = self.resolve(c.get("type"))
                if t.kind != "composite":
                    raise SchemaError("data %s must use a composite type" % c.get("name"))
                datas.append(Data(c.get("name"), int(c.get("id")), t))
        return fields, groups, datas, offset

    def group(self, elem):
        name = elem.get("name")
        dim = self.resolve(elem.get("dimensionType", "groupSizeEncoding"))
        fields, groups, datas, end = self.fields_and_more(elem, "group " + name)
        bl = end
        if elem.get("blockLength") is not None:
            declared = int(elem.get("blockLength"))
            if declared < end:
                raise SchemaError("group %s blockLength %d is shorter than its fields (%d)" % (name, declared, end))
            bl = declared
        return Group(name, int(elem.get("id")), dim, bl, fields, groups, datas)

    def message(self, elem):
        name = elem.get("name")
        fields, groups, datas, end = self.fields_and_more(elem, "message " + name)
        declared = elem.get("blockLength")
        bl = end
        if declared is not None:
            if int(declared) < end:
                raise SchemaError("message %s blockLength %s is shorter than its fields (%d)" % (name, declared, end))
            bl = int(declared)
        return Message(name, int(elem.get("id")), bl, fields, groups, datas, declared)


def load(path):
    """Parse the schema at `path` and return a Schema."""
    try:
        tree = ET.parse(path)
    except ET.ParseError as e:
        raise SchemaError("%s: %s" % (path, e))
    try:
        return _Parser(tree.getroot()).run()
    except SchemaError as e:
        raise SchemaError("%s: %s" % (path, e))
