"""What a file is, told from its bytes before its name is believed.

``sniff_file(path)`` reads the head of a file (for a zip, its list of members; for a protobuf, its
top-level fields; for gzip, the first bytes it inflates to) and answers with a ``FileType``: the
kind of source that reads it, or, for a format embscope cannot read, what the file is and what to
do. ``None`` means no signature matched: a text file (word vectors, CSV, TSV) or something
unknown, which the suffix rules decide as before.

Signatures: GGUF (``GGUF``), zip (``PK\\x03\\x04``; an ``.npz``, a ``.keras`` model, a zipped
Hugging Face or sentence-transformers folder, a ``torch.save`` file or another archive, told
apart by its members), ONNX (a protobuf: no magic, so the ModelProto's top-level fields are walked
and must end exactly at the end of the file), safetensors (an 8-byte little-endian header length,
then ``{"``), pickle (``\\x80`` and a protocol byte), HDF5, ``.npy``, Parquet, gzip, and the
formats people point at by mistake: PDF, images, executables, TensorFlow Lite, other archives and
compressors, SQLite, Git LFS pointers and HTML pages saved in place of a download.

Only the standard library is used, and only a bounded head of each file is read (a zip's
central directory, which ``zipfile`` reads whole, is part of the file).
"""

from __future__ import annotations

import gzip
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import SourceError
from .formats import kind_of_zip_suffix

#: How much of a file's head the signatures need (tar's ``ustar`` sits at byte 257, a Windows
#: executable's ``PE`` header where byte 60 points, usually within the first few hundred bytes).
HEAD_BYTES = 1024

GGUF_MAGIC = b"GGUF"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a member's header; an empty archive's end record
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
NPY_MAGIC = b"\x93NUMPY"
PARQUET_MAGIC = b"PAR1"
GZIP_MAGIC = b"\x1f\x8b"
# torch.save's legacy format starts with a pickled magic number (torch/serialization.py)
_TORCH_LEGACY_MAGIC = b"\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"

_SOURCES_HINT = "run 'embscope sources' for the kinds of file embscope reads"
_UNPICKLE_ADVICE = (
    "embscope never unpickles a file on its own: it reads pytorch_model.bin only inside a "
    "Hugging Face checkpoint folder (beside its config.json), with torch.load(weights_only=True); "
    "save the embedding with safetensors, or as .npy with a vocabulary file"
)


@dataclass(frozen=True)
class FileType:
    """What a file holds: ``kind`` is the kind of source that reads it (``embscope.load``'s
    ``kind=``), or None when embscope cannot read it; then ``advice`` says what to do."""

    format: str
    what: str
    kind: str | None = None
    advice: str = ""

    def refusal(self, path: str | Path) -> str:
        """The one line that refuses the file."""
        return f"{path}: {self.what}; {self.advice}" if self.advice else f"{path}: {self.what}"


def sniff_file(path: str | Path) -> FileType | None:
    """What ``path`` is from its bytes (see the module's docstring); None when nothing matched."""
    path = Path(path)
    try:
        handle = path.open("rb")
    except OSError as error:  # permission denied, a FIFO that went away…
        raise SourceError(f"{path}: cannot be read ({error.strerror or error})") from None
    with handle:
        try:
            head = handle.read(HEAD_BYTES)
            size = handle.seek(0, 2)
        except OSError as error:  # a device's I/O error, a file that cannot seek
            raise SourceError(f"{path}: cannot be read ({error.strerror or error})") from None
        if head[:4] in ZIP_MAGICS:
            return _zip_type(path)
        if head.startswith(GZIP_MAGIC):
            return _gzip_type(path)
        found = _by_magic(head, path, size)
        if found is not None:
            return found
        if head[:1] == b"\x08" and _is_onnx(handle, size):
            return FileType("onnx", "an ONNX model", kind="onnx")
    return _by_suffix(path)


def _by_magic(head: bytes, path: Path, size: int) -> FileType | None:
    if head.startswith(GGUF_MAGIC):
        return FileType(
            "gguf", "a GGUF model file (llama.cpp's format; Ollama and LM Studio keep models so)",
            kind="gguf",
        )  # fmt: skip
    if head.startswith(HDF5_MAGIC):
        return FileType("hdf5", "an HDF5 file (a Keras .h5 model)", kind="keras")
    if head.startswith(NPY_MAGIC):
        return FileType("npy", "a NumPy .npy array", kind="npy")
    if head.startswith(PARQUET_MAGIC):
        return FileType("parquet", "a Parquet table", kind="parquet")
    if _is_safetensors(head, size):
        if path.suffix == ".safetensors":
            return FileType("safetensors", "a safetensors file", kind="huggingface")
        return FileType(
            "safetensors",
            "a safetensors file without the .safetensors suffix",
            advice="rename it to end in .safetensors (and keep its config.json and tokenizer "
            "files beside it)",
        )
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        legacy = head[2:].startswith(_TORCH_LEGACY_MAGIC)
        what = (
            "a PyTorch file in torch.save's legacy (pickle) format"
            if legacy
            else "a Python pickle (torch.save's legacy format, a .pkl or joblib file)"
        )
        return _torch_file(path, "pickle", what)
    for format_, test, what, advice in _UNREADABLE:
        if test(head, size):
            return FileType(format_, what, advice=advice)
    return None


def _by_suffix(path: Path) -> FileType | None:
    """Formats without a signature that are still known by name, and cannot be read."""
    suffix = path.suffix.lower()
    if suffix == ".pb":
        return FileType(
            "tensorflow",
            "a TensorFlow graph (a SavedModel's .pb)",
            advice="embscope does not read TensorFlow graphs: save the Keras model as .keras, "
            "or the embedding as .npy with a vocabulary file",
        )
    if suffix == ".msgpack":
        return FileType(
            "flax",
            "a Flax checkpoint (msgpack)",
            advice="embscope does not read Flax files: use the checkpoint's model.safetensors",
        )
    if suffix == ".json" and path.name in _CHECKPOINT_FILES:
        return FileType(
            "json",
            f"the {path.name} of a checkpoint, not its weights",
            advice=f"point at the folder that holds it ({path.parent})",
        )
    return None


_CHECKPOINT_FILES = frozenset(
    {"config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
     "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json"}
)  # fmt: skip


# ---- formats embscope cannot read --------------------------------------------------------------
def _prefix(*magics: bytes):
    return lambda head, size: head.startswith(magics)


def _is_windows_program(head: bytes, size: int) -> bool:
    if not head.startswith(b"MZ") or len(head) < 64:
        return False
    (offset,) = struct.unpack_from("<I", head, 60)
    return head[offset : offset + 4] == b"PE\0\0"


def _is_tflite(head: bytes, size: int) -> bool:
    # a FlatBuffer: a little-endian offset to the root table, then the file identifier
    return head[4:8] == b"TFL3" and struct.unpack_from("<I", head)[0] < size


def _is_html(head: bytes, size: int) -> bool:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:15].lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head", b"<!--"))


_ARCHIVE = "unpack it and point at the file inside"
_DECOMPRESS = (
    "decompress it first and point at the result (embscope reads gzip-compressed word-vector "
    "files as they are)"
)
_NOT_A_MODEL = f"point at a model or vectors file instead; {_SOURCES_HINT}"
_UNREADABLE = (
    ("pdf", _prefix(b"%PDF-"), "a PDF document, not a model or vectors file", _NOT_A_MODEL),
    ("png", _prefix(b"\x89PNG\r\n\x1a\n"), "a PNG image, not a model or vectors file",
     _NOT_A_MODEL),
    ("jpeg", _prefix(b"\xff\xd8\xff"), "a JPEG image, not a model or vectors file",
     _NOT_A_MODEL),
    ("gif", _prefix(b"GIF87a", b"GIF89a"), "a GIF image, not a model or vectors file",
     _NOT_A_MODEL),
    ("webp", lambda head, size: head[:4] == b"RIFF" and head[8:12] == b"WEBP",
     "a WebP image, not a model or vectors file", _NOT_A_MODEL),
    ("elf", _prefix(b"\x7fELF"), "an ELF executable or shared library, not a model file",
     _NOT_A_MODEL),
    ("mach-o", _prefix(b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xcf"),
     "a Mach-O executable or library, not a model file", _NOT_A_MODEL),
    ("pe", _is_windows_program, "a Windows executable or DLL, not a model file",
     _NOT_A_MODEL),
    ("tflite", _is_tflite, "a TensorFlow Lite model (TFL3)",
     "embscope does not read .tflite files: export the embedding from the Keras model it was "
     "converted from (model.save('model.keras')), or as .npy with a vocabulary file"),
    ("bzip2", lambda head, size: head[:3] == b"BZh" and head[4:10] == b"1AY&SY",
     "a bzip2-compressed file", _DECOMPRESS),
    ("xz", _prefix(b"\xfd7zXZ\x00"), "an xz-compressed file", _DECOMPRESS),
    ("zstd", _prefix(b"\x28\xb5\x2f\xfd"), "a Zstandard-compressed file", _DECOMPRESS),
    ("lz4", _prefix(b"\x04\x22\x4d\x18"), "an LZ4-compressed file", _DECOMPRESS),
    ("7z", _prefix(b"7z\xbc\xaf\x27\x1c"), "a 7-Zip archive", _ARCHIVE),
    ("rar", _prefix(b"Rar!\x1a\x07"), "a RAR archive", _ARCHIVE),
    ("tar", lambda head, size: head[257:262] == b"ustar", "a tar archive", _ARCHIVE),
    ("sqlite", _prefix(b"SQLite format 3\x00"), "an SQLite database",
     "export its vectors to Parquet, or to .npy with a vocabulary file"),
    ("git-lfs", _prefix(b"version https://git-lfs.github.com/spec/"),
     "a Git LFS pointer, not the file it stands for",
     "run 'git lfs pull' in its repository, or download the file itself"),
    ("html", _is_html, "an HTML page, not a model or vectors file",
     "a download saved a web page in place of the file (a login page, or a Hugging Face "
     "'blob' link where 'resolve' gives the file): download the file itself"),
)  # fmt: skip


# ---- safetensors, pickle and torch files ----------------------------------------------------
def _is_safetensors(head: bytes, size: int) -> bool:
    if len(head) < 10:
        return False
    (length,) = struct.unpack_from("<Q", head)
    return 2 <= length <= size - 8 and head[8:10] in (b'{"', b"{}")


def _torch_file(path: Path, format_: str, what: str) -> FileType:
    if path.suffix == ".bin" and (path.parent / "config.json").is_file():
        return FileType(format_, what, kind="huggingface")  # pytorch_model.bin in a checkpoint
    return FileType(format_, what, advice=_UNPICKLE_ADVICE)


# ---- zip archives ----------------------------------------------------------------------------
def _zip_type(path: Path) -> FileType:
    """An archive told apart by its members; a suffix that names a zip format decides when the
    members do not (the reader then says what is wrong)."""
    by_suffix = kind_of_zip_suffix(path.suffix.lower())
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as error:
        if by_suffix is not None:
            return FileType("zip", "a zip archive", kind=by_suffix)
        return FileType(
            "zip",
            f"a zip archive whose list of members cannot be read ({type(error).__name__})",
            advice="the file is damaged or truncated: download or copy it again",
        )
    files = [name for name in names if not name.endswith("/")]
    if files and all(name.endswith(".npy") for name in files):
        return FileType("npz", "a NumPy .npz archive", kind="npz")
    if "model.weights.h5" in files and "config.json" in files:
        return FileType("keras", "a Keras 3 .keras model", kind="keras")
    if by_suffix is not None:
        return FileType("zip", "a zip archive", kind=by_suffix)
    if any(name == "data.pkl" or name.endswith("/data.pkl") for name in files):
        return _torch_file(path, "torch-zip", "a PyTorch file (torch.save's zip format)")
    if checkpoint_folders(files):
        return FileType(
            "huggingface-zip",
            "a zipped Hugging Face (or sentence-transformers) checkpoint folder",
            kind="huggingface-zip",
        )
    weights = [n for n in files if n.endswith(("/pytorch_model.bin", ".onnx", ".gguf"))
               or n in ("pytorch_model.bin",)]  # fmt: skip
    if weights:
        return FileType(
            "zip",
            f"a zip archive holding {_listing(weights)}",
            advice="embscope reads a zipped checkpoint folder in place only when it holds "
            "config.json and model.safetensors: unzip it and point at the folder or file inside",
        )
    return FileType(
        "zip",
        f"a zip archive of {_count(files, 'file')} ({_listing(files)})"
        if files
        else "an empty zip",
        advice=_ARCHIVE
        + " (a zip is read in place when it is an .npz, a .keras model or a checkpoint folder)",
    )


def checkpoint_folders(names: list[str]) -> list[str]:
    """The folders of a zip (``""`` for its root, else ``"name/"``) that hold a checkpoint:
    ``config.json`` beside ``model.safetensors`` (or its sharded index); shallowest first."""
    present = set(names)
    found = []
    for name in names:
        if name == "config.json" or name.endswith("/config.json"):
            folder = name[: -len("config.json")]
            if f"{folder}model.safetensors" in present or (
                f"{folder}model.safetensors.index.json" in present
            ):
                found.append(folder)
    return sorted(set(found), key=lambda folder: (folder.count("/"), folder))


def _count(items: list[str], noun: str) -> str:
    return f"{len(items):,} {noun}" + ("" if len(items) == 1 else "s")


def _listing(names: list[str], shown: int = 3) -> str:
    more = f", and {len(names) - shown:,} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


# ---- gzip ------------------------------------------------------------------------------------
def _gzip_type(path: Path) -> FileType | None:
    """A tarball or a compressed binary format is named; anything else (word vectors ``.gz``)
    goes on to the suffix rules, whose reader inflates it within its bound."""
    try:
        with gzip.open(path, "rb") as stream:
            inner = stream.read(HEAD_BYTES)
    except (OSError, EOFError, zlib.error):
        return None  # the word-vector reader reports a broken stream
    if inner[257:262] == b"ustar":
        return FileType("tar", "a gzip-compressed tar archive (.tar.gz)", advice=_ARCHIVE)
    found = _by_magic(inner, path.with_suffix(""), 1 << 62) if inner else None
    if found is None and inner[:4] in ZIP_MAGICS:
        found = FileType("zip", "a zip archive")
    if found is None or found.format in ("html", "git-lfs"):
        return None
    return FileType(
        found.format,
        f"a gzip-compressed file holding {found.what}",
        advice="decompress it (gunzip) and point at the result; embscope reads only word-vector "
        "files gzip-compressed",
    )


# ---- ONNX: a protobuf without magic ----------------------------------------------------------
_MAX_TOP_LEVEL_FIELDS = 100_000


def _is_onnx(handle, size: int) -> bool:
    """Whether the file parses as protobuf fields up to its very end with an ONNX ModelProto's
    ``ir_version`` (field 1, a varint, which writers put first) and ``graph`` (field 7). Only
    the top-level fields are walked: a few reads, whatever the model's size."""
    position, seen = 0, set()
    for _ in range(_MAX_TOP_LEVEL_FIELDS):
        if position == size:
            return 1 in seen and 7 in seen
        key, position = _varint(handle, position)
        if key is None:
            return False
        field, wire_type = key >> 3, key & 7
        if field == 0:
            return False
        if wire_type == 0:
            value, position = _varint(handle, position)
            if value is None:
                return False
        elif wire_type == 1:
            position += 8
        elif wire_type == 5:
            position += 4
        elif wire_type == 2:
            length, position = _varint(handle, position)
            if length is None:
                return False
            position += length
        else:
            return False
        if (field == 1 and wire_type != 0) or (field == 7 and wire_type != 2) or position > size:
            return False
        seen.add(field)
    return False


def _varint(handle, position: int) -> tuple[int | None, int]:
    handle.seek(position)
    data = handle.read(10)
    value = 0
    for index, byte in enumerate(data):
        value |= (byte & 0x7F) << (7 * index)
        if byte < 0x80:
            return value, position + index + 1
    return None, position
