#!/usr/bin/env python3
"""Regenerate the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/).

Seeds come from the in-repo golden vectors (tests/vectors), the example
configuration (config/driver.toml) and a few hand-written inputs. Run from
anywhere: python3 tests/fuzz/gen_corpus.py. Existing seed files are replaced;
the corpus stays small (a few dozen files per target).
"""
import pathlib
import shutil
import struct

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VECTORS = ROOT / "tests" / "vectors"
CORPUS = HERE / "corpus"


def put(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / name).write_bytes(data)


def copy_vectors(target, *schemas, exclude=()):
    for schema in schemas:
        for f in sorted((VECTORS / schema).glob("*.bin")):
            if not any(f.name.startswith(x) for x in exclude):
                put(target, f"{schema}-{f.name}", f.read_bytes())


def slot(seq, values_len, pool_id=1, nslots=4, dtype=1, order=1, dims=(16,), strides=(), progress=0,
         progress_stride=0):
    """A 256-byte slot (SlotHeader + TensorHeader) that a reader of the fuzz ring accepts."""
    tensor = struct.pack("<HHBBBI", dtype, order, len(dims), 0, progress, progress_stride)
    tensor += struct.pack("<8i", *(list(dims) + [0] * (8 - len(dims))))
    tensor += struct.pack("<8i", *(list(strides) + [0] * (8 - len(strides))))
    tensor = tensor.ljust(184, b"\0")
    header = struct.pack("<HHHH", 184, 52, 900, 1)
    s = struct.pack("<QIIHIQI", (seq << 1) | 1, values_len, seq & (nslots - 1), pool_id, 0, 0, 0)
    s = s.ljust(60, b"\0") + struct.pack("<I", 192) + header + tensor
    return s.ljust(256, b"\0")


def bridge_chunk(seq, index, count, offset, payload, total, header=b"", epoch=3, trace=0, crc=0):
    """A BridgeFrameChunk (schema 902) with its message header."""
    block = struct.pack("<IQQQIIIIIIB", 10, epoch, seq, trace, index, count, offset, len(payload), total, crc,
                        1 if header else 0)
    return (struct.pack("<HHHH", 53, 1, 902, 1) + block + struct.pack("<I", len(header)) + header
            + struct.pack("<I", len(payload)) + payload)


def bridge_seeds():
    """Record sequences for fuzz_proto_bridge: [u16 length][chunk] after one flag byte."""
    def records(*msgs):
        return b"\0" + b"".join(struct.pack("<H", len(m)) + m for m in msgs)

    payload = bytes(range(256)) * 12
    chunks = [bridge_chunk(5, i, 3, i * 1024, payload[i * 1024:(i + 1) * 1024], 3072,
                           slot(5, 3072, dims=(3072,)) if i == 0 else b"") for i in range(3)]
    put("fuzz_proto_bridge", "frame-3-chunks", records(*chunks))
    put("fuzz_proto_bridge", "frame-reordered", records(chunks[2], chunks[0], chunks[1]))
    put("fuzz_proto_bridge", "frame-duplicate", records(chunks[0], chunks[0], chunks[1], chunks[1], chunks[2]))
    put("fuzz_proto_bridge", "frame-missing", records(chunks[0], chunks[2]))
    put("fuzz_proto_bridge", "frame-single", records(bridge_chunk(1, 0, 1, 0, b"x" * 16, 16, slot(1, 16))))


def main():
    if CORPUS.exists():
        shutil.rmtree(CORPUS)

    copy_vectors("fuzz_proto_wire", "wire", exclude=("ShmRegionSuperblock", "SlotHeader", "TensorHeader"))
    copy_vectors("fuzz_proto_driver", "driver")
    copy_vectors("fuzz_proto_tracelink", "trace-link")
    copy_vectors("fuzz_proto_merge", "join-barrier")
    copy_vectors("fuzz_codec_ext", "bridge", "discovery", "join-barrier", "trace-link")
    copy_vectors("fuzz_proto_bridge", "bridge")
    bridge_seeds()

    for i, uri in enumerate([
        "shm:file?path=/dev/shm/tensorpool-user/default/1000/1/header.ring",
        "shm:file?path=/dev/hugepages/p/1.pool|require_hugepages=true",
        "shm:file?require_hugepages=false|path=/tmp/x",
        "aeron:ipc",
        "aeron:ipc?term-length=4m|alias=ctl",
        "aeron:udp?endpoint=127.0.0.1:40123|interface=lo|ttl=4|mtu=8k",
        "aeron:udp?endpoint=[::1]:40123|reliable=true|tether=false",
        "aeron:ipc?term-length=64k|sparse=true|linger=0",
    ]):
        put("fuzz_shm_uri", f"uri-{i}", uri)

    for i, text in enumerate([
        "default\nuser\na.pool\n1000 1",
        "ns-1\nalice\nsub/header.ring\n4294967295 18446744073709551615",
        "x\ny\nlink-in\n1 2",
        "x\ny\nlink-out\n1 2",
        "x\ny\nlink-dir/header.ring\n0 0",
        "x\ny\n../allowed-sibling/x.pool\n0 0",
        "x\ny\n../outside.file\n0 0",
        "x\ny\nloop\n0 0",
        "x\ny\nfifo\n0 0",
        "..\n.\n./a.pool\n7 7",
    ]):
        put("fuzz_shm_path", f"path-{i}", text)

    sb = (VECTORS / "wire" / "ShmRegionSuperblock.shm.bin").read_bytes()
    golden_slot = (VECTORS / "wire" / "SlotHeader.shm.bin").read_bytes()
    put("fuzz_superblock", "golden", sb + golden_slot)
    put("fuzz_superblock", "golden-file", sb + golden_slot + struct.pack("<QB", 0, 0x80))
    put("fuzz_superblock", "frame-u8", sb + slot(5, 16) + struct.pack("<QB", 5, 0))
    put("fuzz_superblock", "frame-2d-strided",
        sb + slot(6, 256, dtype=9, dims=(4, 8), strides=(64, 4), progress=1, progress_stride=64)
        + struct.pack("<QB", 6, 1))
    put("fuzz_superblock", "frame-bit-colmajor", sb + slot(3, 8, dtype=14, order=2, dims=(8, 8))
        + struct.pack("<QB", 3, 0x81))
    put("fuzz_superblock", "frame-empty", sb + slot(9, 0, dims=(0,)) + struct.pack("<QB", 9, 2))

    driver_toml = (ROOT / "config" / "driver.toml").read_text()
    snippets = [
        driver_toml,
        'a = 1\nb = "x\\u00e9"\n[t]\nc = [1, 2.5, true, { d = \'lit\' }]\n[[arr]]\nx = 0x7f\n[[arr]]\nx = -1_000\n',
        'm = """\nline1 \\\n  line2"""\nn = \'\'\'raw\n\'\'\'\nf = [inf, -inf, nan, 6.02E+23]\n',
        '"quoted key" = 1\na.b.c = 2\na . "d" = 3\n',
        "big = 18446744073709551615\nsmall = -9223372036854775808\n",
    ]
    for i, text in enumerate(snippets):
        put("fuzz_toml", f"toml-{i}", text)
    put("fuzz_driver_config", "driver.toml", driver_toml)
    put("fuzz_driver_config", "minimal.toml",
        "[profiles.p]\nheader_nslots = 8\npayload_pools = [ { pool_id = 1, stride_bytes = 4096 } ]\n"
        "[streams.s]\nstream_id = 10000\nprofile = \"p\"\n")

    put("fuzz_ratelimit_config", "ratelimiter.toml", (ROOT / "config" / "ratelimiter.toml").read_text())
    put("fuzz_ratelimit_config", "minimal.toml",
        '[rate_limiter]\ninstance_id = "x"\ndescriptor_channel = "aeron:ipc"\ndescriptor_stream_id = 1\n'
        '[[mappings]]\nsource_stream_id = 1\ndest_stream_id = 2\n')
    put("fuzz_ratelimit_config", "forwarding.toml",
        '[rate_limiter]\ninstance_id = "x"\ndescriptor_channel = "aeron:ipc"\ndescriptor_stream_id = 1\n'
        'forward_progress = true\nsource_control_stream_id = 5\ndest_control_stream_id = 6\nforward_qos = true\n'
        'source_qos_stream_id = 7\ndest_qos_stream_id = 8\n[[mappings]]\nsource_stream_id = 1\ndest_stream_id = 2\n'
        'max_rate_hz = 3\nmetadata_stream_id = 9\npayload_pools = [{ pool_id = 2, stride_bytes = 128 }]\n'
        '[[mappings]]\nsource_stream_id = 3\ndest_stream_id = 4\n')

if __name__ == "__main__":
    main()
