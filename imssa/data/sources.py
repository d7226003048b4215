"""Where the recordings come from: the Free Spoken Digit Dataset (FSDD) and Heidelberg Digits (HD).

Data root: the ``data_dir`` argument, else the environment variable ``IMSSA_DATA_DIR``, else the
user cache directory. FSDD lives in ``<root>/fsdd/recordings`` (downloaded at a pinned commit and
checked against its manifest digest when absent); HD in ``<root>/heidelberg``. The listings
(``list_fsdd``, ``list_heidelberg``) give one row per recording; ``audio`` reads and splits them.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import urllib.request
import zipfile
from pathlib import Path

import pandas as pd
import platformdirs
from tqdm import tqdm

__all__ = [
    "AudioError",
    "DataMissingError",
    "FSDD_COMMIT",
    "FSDD_MANIFEST_SHA256",
    "data_root",
    "download_fsdd",
    "fsdd_dir",
    "fsdd_manifest_digest",
    "list_fsdd",
    "list_heidelberg",
]

FSDD_COMMIT = "26eb9aaf76e81b692f806f9140c2d2777410d7a1"
FSDD_URL = f"https://github.com/Jakobovski/free-spoken-digit-dataset/archive/{FSDD_COMMIT}.zip"
FSDD_RATE = 8000
#: SHA-256 over the sorted lines "<file> <sha256 of file>\n" of all 3000 recordings at FSDD_COMMIT.
FSDD_MANIFEST_SHA256 = "dbd573d7cafe79c4b49f65718115e1304e24e067fa39eff18a660dc6cb9c360f"
FSDD_N_FILES = 3000
HD_RATE = 48000

_FSDD_NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")
_HD_NAME = re.compile(r"^lang-(english|german)_speaker-(\d+)_trial-(\d+)_digit-(\d)\.flac$")


class DataMissingError(FileNotFoundError):
    """The dataset is not where the loader looked, and could not be fetched."""


class AudioError(ValueError):
    """An audio file that cannot be read or decoded."""


def data_root(data_dir: str | Path | None = None) -> Path:
    """``data_dir``, else ``$IMSSA_DATA_DIR``, else the user cache directory (imssa/data)."""
    if data_dir is not None:
        return Path(data_dir)
    env = os.environ.get("IMSSA_DATA_DIR")
    if env:
        return Path(env)
    return Path(platformdirs.user_cache_dir("imssa")) / "data"


# ---------------------------------------------------------------------------- FSDD


def fsdd_manifest_digest(recordings: Path, files: list[str] | None = None) -> str:
    """SHA-256 over sorted "<name> <sha256>" lines of the recordings (compare
    FSDD_MANIFEST_SHA256)."""
    names = sorted(files if files is not None else (p.name for p in recordings.glob("*.wav")))
    h = hashlib.sha256()
    for name in names:
        h.update(
            f"{name} {hashlib.sha256((recordings / name).read_bytes()).hexdigest()}\n".encode()
        )
    return h.hexdigest()


def download_fsdd(root: Path, url: str = FSDD_URL) -> Path:
    """Fetch FSDD at commit FSDD_COMMIT into ``root/fsdd/recordings``, with a progress bar.

    The recordings are checked against FSDD_MANIFEST_SHA256 before they are moved into place.
    Raises DataMissingError with what to download and which setting to use if that fails.
    """
    target = root / "fsdd" / "recordings"
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            total = int(resp.headers.get("Content-Length") or 0) or None
            buf = io.BytesIO()
            with tqdm(total=total, unit="B", unit_scale=True, desc="FSDD download") as bar:
                while chunk := resp.read(1 << 20):
                    buf.write(chunk)
                    bar.update(len(chunk))
        target.parent.mkdir(parents=True, exist_ok=True)
        # same disk: the rename is atomic
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            staging = Path(tmp)
            with zipfile.ZipFile(buf) as zf:
                wavs = [n for n in zf.namelist() if re.search(r"/recordings/[^/]+\.wav$", n)]
                for n in wavs:
                    (staging / Path(n).name).write_bytes(zf.read(n))
            digest = fsdd_manifest_digest(staging)
            if len(wavs) != FSDD_N_FILES or digest != FSDD_MANIFEST_SHA256:
                raise ValueError(f"checksum mismatch ({len(wavs)} files, manifest digest {digest})")
            (staging / "recordings").mkdir()
            for wav in staging.glob("*.wav"):
                wav.rename(staging / "recordings" / wav.name)
            (staging / "recordings").rename(target)
    except Exception as err:
        raise DataMissingError(
            f"FSDD recordings not found in {target} and the download failed ({err}).\n"
            f"Download {url} (the dataset at commit {FSDD_COMMIT}: 3000 recordings; "
            "tag v1.0.9 has only 2500), unpack its recordings/ folder to <DIR>/fsdd/recordings, "
            "and set IMSSA_DATA_DIR=<DIR> (or pass data_dir=<DIR>)."
        ) from None
    return target


def fsdd_dir(data_dir: str | Path | None = None, download: bool = True) -> Path:
    """Folder of FSDD's ``{digit}_{speaker}_{index}.wav`` files; downloads when absent and
    allowed."""
    root = data_root(data_dir)
    rec = root / "fsdd" / "recordings"
    if rec.is_dir() and any(rec.glob("*.wav")):
        return rec
    if not download:
        raise DataMissingError(
            f"FSDD recordings not found in {rec}. Set IMSSA_DATA_DIR (or data_dir) to the folder "
            f"that holds fsdd/recordings, or allow the download of commit {FSDD_COMMIT}."
        )
    return download_fsdd(root)


def list_fsdd(recordings: Path) -> pd.DataFrame:
    """One row per recording: file, digit, speaker, index; sorted for determinism."""
    rows = []
    for p in sorted(recordings.glob("*.wav")):
        m = _FSDD_NAME.match(p.name)
        if m:
            rows.append({"file": p, "digit": int(m[1]), "speaker": m[2], "index": int(m[3])})
    if not rows:
        raise DataMissingError(
            f"no FSDD files named {{digit}}_{{speaker}}_{{index}}.wav in {recordings}"
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------- Heidelberg Digits


def list_heidelberg(root: Path) -> pd.DataFrame:
    """HD's published layout: ``audio/lang-L_speaker-NN_trial-T_digit-D.flac`` with the official
    split in ``train_filenames.txt`` and ``test_filenames.txt``. One row per listed file."""
    audio = root / "audio"
    rows = []
    for part in ("train", "test"):
        listing = root / f"{part}_filenames.txt"
        if not listing.is_file():
            raise DataMissingError(
                f"Heidelberg Digits not found: {listing} is missing. Put the dataset (audio/ and "
                "the two *_filenames.txt) in <DIR>/heidelberg and set IMSSA_DATA_DIR=<DIR>."
            )
        for name in listing.read_text().split():
            m = _HD_NAME.match(name)
            if not m:
                raise AudioError(f"{listing}: entry {name!r} does not follow the HD naming scheme")
            rows.append(
                {
                    "file": audio / name,
                    "digit": int(m[4]),
                    "speaker": f"{m[2]}",
                    "language": m[1],
                    "trial": int(m[3]),
                    "part": part,
                }
            )
    return pd.DataFrame(rows)
