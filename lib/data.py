"""Data sets for the course: offline ones first, and a verified loader for real MNIST.

Every loader returns the book's format ``(x_train, t_train), (x_test, t_test)``; labels are int64
class indices (or one-hot rows with ``one_hot_label=True``).

- ``load_digits``  scikit-learn's bundled 8×8 handwritten digits (1,797 images, offline): the default.
- ``load_mnist``   the real 28×28 MNIST, downloaded once from a list of mirrors, every file verified
  by the SHA-256 of its uncompressed content, cached atomically.
- ``make_spirals`` / ``make_moons``  2-D toy sets for pictures of decision boundaries.
- ``load_dataset(name, ...)``  one entry point for all of them; ``train_validation_split`` holds out
  a validation set (hyperparameters are chosen on it, never on the test set).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import importlib.util
import os
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "DEFAULT_MIRRORS", "MNISTUnavailableError", "count_classes", "default_mnist_dir", "load_dataset",
    "load_digits", "load_mnist", "load_mnist_split", "make_moons", "make_spirals", "parse_idx",
    "train_validation_split",
]

DATASETS = ("digits", "mnist", "spirals", "moons")

# Tried in order. Mirrors serve differently compressed .gz files of the same content, which is
# why files are verified by the hash of their uncompressed bytes.
DEFAULT_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)


@dataclass(frozen=True)
class _IdxFile:
    filename: str
    sha256: str  # of the uncompressed IDX bytes
    shape: tuple[int, ...]


# The t10k hashes were computed here from the canonical files; the train hashes are the published
# values, identical across several independent listings whose t10k values match ours exactly.
# Shapes are checked too, so a wrong hash table could never let a malformed file through.
MNIST_FILES = {
    ("train", "images"): _IdxFile("train-images-idx3-ubyte.gz",
                                  "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", (60000, 28, 28)),
    ("train", "labels"): _IdxFile("train-labels-idx1-ubyte.gz",
                                  "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", (60000,)),
    ("test", "images"): _IdxFile("t10k-images-idx3-ubyte.gz",
                                 "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", (10000, 28, 28)),
    ("test", "labels"): _IdxFile("t10k-labels-idx1-ubyte.gz",
                                 "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", (10000,)),
}


class MNISTUnavailableError(OSError):
    """No verified copy of an MNIST file could be found or downloaded. The message says why for each
    mirror and what to do instead."""


# ---------------------------------------------------------------------------------------------- IDX

# IDX type codes (third byte of the magic number) → big-endian numpy dtypes.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(data: bytes, name: str = "IDX data") -> np.ndarray:
    """Parse the bytes of an (uncompressed) IDX file into an array in native byte order.

    Layout: two zero bytes, a type code (0x08 = uint8 …), the number of dimensions, one big-endian
    uint32 per dimension, then the values. Any deviation raises ``ValueError`` naming ``name``.
    """
    if len(data) < 4:
        raise ValueError(f"{name}: {len(data)} bytes is too short for an IDX header (magic number needs 4).")
    zero, type_code, ndim = int.from_bytes(data[:2], "big"), data[2], data[3]
    if zero != 0 or type_code not in _IDX_DTYPES:
        raise ValueError(f"{name}: bad IDX magic number 0x{data[:4].hex()} (expected 0x0000 then a type code "
                         f"among {', '.join(hex(c) for c in _IDX_DTYPES)}). Is this really an uncompressed IDX file?")
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise ValueError(f"{name}: header declares {ndim} dimensions but the file has only {len(data)} bytes.")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[type_code])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(f"{name}: header declares shape {shape} of {dtype.name} ({expected} bytes in all) "
                         f"but the file has {len(data)} bytes — truncated or corrupt.")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


def _read_verified(path: Path, spec: _IdxFile) -> np.ndarray:
    """Decompress, hash and parse one cached file; ValueError says what is wrong with it."""
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error) as error:  # BadGzipFile is an OSError
        raise ValueError(f"{path.name}: not a complete gzip file ({error}).") from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != spec.sha256:
        raise ValueError(f"{path.name}: SHA-256 of the uncompressed content is {digest}, expected {spec.sha256}.")
    array = parse_idx(raw, path.name)
    if array.shape != spec.shape:
        raise ValueError(f"{path.name}: shape {array.shape}, expected {spec.shape}.")
    return array


# -------------------------------------------------------------------------------------- downloading

def default_mnist_dir() -> Path:
    """Where MNIST is cached: ``$COURSE_DATA_DIR/mnist`` if that variable is set, otherwise
    ``~/.cache/training-techniques-course/mnist``."""
    root = os.environ.get("COURSE_DATA_DIR")
    if root:
        return Path(root).expanduser() / "mnist"
    return Path.home() / ".cache" / "training-techniques-course" / "mnist"


def _download(url: str, destination: Path, timeout: float) -> None:
    """Stream ``url`` into ``destination``; raise OSError if the body is shorter than announced."""
    with urllib.request.urlopen(url, timeout=timeout) as response, open(destination, "wb") as out:
        announced = response.headers.get("Content-Length")
        received = 0
        while chunk := response.read(1 << 16):
            out.write(chunk)
            received += len(chunk)
    # http.client ends a cut-off body silently, so the length is checked here.
    if announced is not None and received != int(announced):
        raise OSError(f"connection closed after {received} of {announced} bytes")


def _fetch_verified(spec: _IdxFile, data_dir: Path, mirrors, timeout: float = 30.0) -> np.ndarray:
    """Return the parsed content of ``spec.filename``, from ``data_dir`` if a verified copy is there,
    otherwise downloaded from the first mirror that serves a verified copy (then cached).

    A download goes to a temporary file in ``data_dir`` and is renamed over the cache only after it
    passes verification, so a partial or corrupt file is never cached; a corrupt cached file is
    replaced by a fresh download.
    """
    data_dir = Path(data_dir)
    target = data_dir / spec.filename
    problems = []
    if target.exists():
        try:
            return _read_verified(target, spec)
        except ValueError as error:
            problems.append(f"  cached copy {target}: {error} — fetching it again")
    network_only = True
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + spec.filename
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=data_dir, prefix=f".{spec.filename}.", suffix=".part")
            os.close(handle)
        except OSError as error:
            raise MNISTUnavailableError(f"Cannot write to {data_dir} ({error}). Pass a writable data_dir= "
                                        f"or set COURSE_DATA_DIR.") from None
        temporary = Path(temporary)
        try:
            _download(url, temporary, timeout)
            array = _read_verified(temporary, spec)
            os.replace(temporary, target)
            return array
        except ValueError as error:
            network_only = False
            problems.append(f"  {url}: rejected: {error}")
        except (OSError, http.client.HTTPException) as error:  # refused, timed out, HTTP 404, cut off …
            problems.append(f"  {url}: {getattr(error, 'reason', None) or error}")
        finally:
            temporary.unlink(missing_ok=True)
    names = ", ".join(f.filename for f in MNIST_FILES.values())
    advice = (f"To use MNIST without a network, put the four files {names} "
              f"into {data_dir} (or pass data_dir=..., or set COURSE_DATA_DIR). "
              f"The course runs offline with load_dataset('digits').")
    if not mirrors:
        heading = f"No verified copy of {spec.filename} in {data_dir}, and downloading is disabled (mirrors=())."
    elif network_only:
        heading = f"Could not download {spec.filename}: no mirror was reachable (offline?)."
    else:
        heading = f"Could not get a verified copy of {spec.filename}; nothing was cached."
    raise MNISTUnavailableError("\n".join([heading, *problems, advice]))


# ------------------------------------------------------------------------------------------ loaders

def _one_hot(t: np.ndarray, n_classes: int, dtype) -> np.ndarray:
    encoded = np.zeros((t.size, n_classes), dtype=dtype)
    encoded[np.arange(t.size), t] = 1
    return encoded


def _finish(x: np.ndarray, t: np.ndarray, n_classes: int, one_hot_label: bool, dtype):
    t = t.astype(np.int64)
    return x, (_one_hot(t, n_classes, dtype) if one_hot_label else t)


def load_mnist_split(split: str, *, normalize: bool = True, flatten: bool = True, one_hot_label: bool = False,
                     data_dir=None, mirrors=None, timeout: float = 30.0, dtype=np.float32):
    """One MNIST split, ``"train"`` (60,000 images) or ``"test"`` (10,000), as ``(x, t)``.

    ``x`` has shape (N, 784) when ``flatten`` else (N, 1, 28, 28); values in [0, 1] as ``dtype`` when
    ``normalize``, else the raw uint8 pixels 0–255. Files come from ``data_dir`` (default:
    :func:`default_mnist_dir`) and are downloaded there when missing or corrupt, from ``mirrors``
    (default :data:`DEFAULT_MIRRORS`; ``mirrors=()`` forbids downloading). Every file is checked
    against the SHA-256 of its uncompressed content, its IDX header and its shape before use.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    directory = Path(data_dir).expanduser() if data_dir is not None else default_mnist_dir()
    mirrors = DEFAULT_MIRRORS if mirrors is None else tuple(mirrors)
    images = _fetch_verified(MNIST_FILES[(split, "images")], directory, mirrors, timeout)
    labels = _fetch_verified(MNIST_FILES[(split, "labels")], directory, mirrors, timeout)
    if len(images) != len(labels):
        raise ValueError(f"MNIST {split}: {len(images)} images but {len(labels)} labels.")
    dtype = np.dtype(dtype)
    x = images.astype(dtype) / dtype.type(255) if normalize else images.copy()
    x = x.reshape(len(x), -1) if flatten else x.reshape(len(x), 1, *images.shape[1:])
    return _finish(x, labels, 10, one_hot_label, dtype)


def load_mnist(normalize: bool = True, flatten: bool = True, one_hot_label: bool = False, data_dir=None,
               mirrors=None, *, timeout: float = 30.0, dtype=np.float32):
    """Real MNIST in the book's format ``(x_train, t_train), (x_test, t_test)``.

    Downloads the four canonical IDX gzip files once (about 11 MB) into ``data_dir`` (default
    ``~/.cache/training-techniques-course/mnist`` or ``$COURSE_DATA_DIR/mnist``), trying ``mirrors``
    in order, and verifies each by the SHA-256 of its uncompressed content — mirrors serve
    differently compressed .gz files of identical content. The test-split hashes were computed from
    the canonical files; the train-split hashes are the published ones (each also checked against
    the expected IDX shape). Offline, the error says where to put the files. Returns float32 in
    [0, 1] when ``normalize``; see :func:`load_mnist_split` for one split alone.
    """
    options = dict(normalize=normalize, flatten=flatten, one_hot_label=one_hot_label, data_dir=data_dir,
                   mirrors=mirrors, timeout=timeout, dtype=dtype)
    return load_mnist_split("train", **options), load_mnist_split("test", **options)


def _check_fraction(name: str, fraction: float) -> None:
    if not 0 < fraction < 1:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {fraction}.")


def _split_indices(t: np.ndarray, fraction: float, seed: int, stratify: bool):
    """Shuffled (kept, held-out) index arrays; with ``stratify`` every class is split in proportion."""
    rng = np.random.default_rng(seed)
    if not stratify:
        order = rng.permutation(len(t))
        n_held = int(round(fraction * len(t)))
        return order[n_held:], order[:n_held]
    kept, held = [], []
    for label in np.unique(t):
        members = rng.permutation(np.flatnonzero(t == label))
        n_held = int(round(fraction * len(members)))
        held.append(members[:n_held])
        kept.append(members[n_held:])
    # Shuffle across classes so the returned order carries no class blocks.
    return rng.permutation(np.concatenate(kept)), rng.permutation(np.concatenate(held))


def load_digits(normalize: bool = True, flatten: bool = True, one_hot_label: bool = False,
                test_fraction: float = 0.2, seed: int = 0, *, dtype=np.float64):
    """scikit-learn's bundled 8×8 digits (1,797 images, 10 classes, no download) in the book's format.

    A stratified split, shuffled with ``seed``: each class keeps ``test_fraction`` of its images for
    the test set. ``x`` is (N, 64) when ``flatten`` else (N, 1, 8, 8); pixel values 0–16 are divided
    by 16 into [0, 1] when ``normalize``.
    """
    _check_fraction("test_fraction", test_fraction)
    pixels, target = _digits_arrays()
    x = pixels.astype(dtype)
    if normalize:
        x /= np.dtype(dtype).type(16)
    if not flatten:
        x = x.reshape(-1, 1, 8, 8)
    train, test = _split_indices(target, test_fraction, seed, stratify=True)
    return (_finish(x[train], target[train], 10, one_hot_label, dtype),
            _finish(x[test], target[test], 10, one_hot_label, dtype))


@functools.lru_cache(maxsize=1)
def _digits_arrays():
    """(pixels 0–16 as float64 (1797, 64), labels) — read-only, shared by every call."""
    # Reading scikit-learn's bundled CSV directly skips `import sklearn`, which costs seconds.
    spec = importlib.util.find_spec("sklearn")
    if spec is None:
        raise ModuleNotFoundError("load_digits needs scikit-learn (its bundled data): pip install scikit-learn")
    csv = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"
    if csv.exists():
        table = np.loadtxt(csv, delimiter=",")
        pixels, target = table[:, :-1], table[:, -1].astype(np.int64)
    else:  # a future scikit-learn may move the file; its public loader still works
        from sklearn.datasets import load_digits as sklearn_digits
        bunch = sklearn_digits()
        pixels, target = bunch.data.astype(np.float64), bunch.target.astype(np.int64)
    pixels.flags.writeable = target.flags.writeable = False
    return pixels, target


def make_spirals(n_per_class: int = 100, n_classes: int = 3, noise: float = 0.2, seed: int = 0, *,
                 dtype=np.float64):
    """CS231n's interleaved spirals: ``(x, t)`` with x of shape (n_per_class·n_classes, 2) in about
    [-1, 1]². No straight line separates them, so a linear model fails and a small MLP succeeds.
    ``noise`` is the standard deviation of the angle jitter (radians)."""
    if n_per_class < 1 or n_classes < 2 or noise < 0:
        raise ValueError(f"need n_per_class ≥ 1, n_classes ≥ 2, noise ≥ 0; "
                         f"got {n_per_class}, {n_classes}, {noise}.")
    rng = np.random.default_rng(seed)
    radius = np.tile(np.linspace(0.0, 1.0, n_per_class), n_classes)
    t = np.repeat(np.arange(n_classes), n_per_class)
    angle = (np.tile(np.linspace(0.0, 4.0, n_per_class), n_classes) + t * (2 * np.pi / n_classes)
             + noise * rng.standard_normal(t.size))
    x = np.column_stack([radius * np.sin(angle), radius * np.cos(angle)]).astype(dtype)
    return x, t.astype(np.int64)


def make_moons(n_per_class: int = 100, noise: float = 0.1, seed: int = 0, *, dtype=np.float64):
    """Two interleaving half circles, ``(x, t)`` with x of shape (2·n_per_class, 2), plus Gaussian
    noise of standard deviation ``noise``."""
    if n_per_class < 1 or noise < 0:
        raise ValueError(f"need n_per_class ≥ 1 and noise ≥ 0; got {n_per_class}, {noise}.")
    rng = np.random.default_rng(seed)
    angle = np.linspace(0.0, np.pi, n_per_class)
    upper = np.column_stack([np.cos(angle), np.sin(angle)])
    lower = np.column_stack([1.0 - np.cos(angle), 0.5 - np.sin(angle)])
    x = np.concatenate([upper, lower]) + noise * rng.standard_normal((2 * n_per_class, 2))
    return x.astype(dtype), np.repeat(np.arange(2), n_per_class).astype(np.int64)


def _load_toy(maker, *, n_per_class: int = 100, test_fraction: float = 0.2, one_hot_label: bool = False,
              seed: int = 0, normalize: bool = True, flatten: bool = True, dtype=np.float64, **options):
    # normalize/flatten are accepted so that load_dataset takes the same arguments for every name:
    # 2-D points are already flat and centred.
    _check_fraction("test_fraction", test_fraction)
    x, t = maker(n_per_class, seed=seed, dtype=dtype, **options)
    train, test = _split_indices(t, test_fraction, seed, stratify=True)
    n_classes = count_classes(t)
    return (_finish(x[train], t[train], n_classes, one_hot_label, dtype),
            _finish(x[test], t[test], n_classes, one_hot_label, dtype))


def count_classes(*label_arrays) -> int:
    """How many classes the labels name: one more than the largest label in any of ``label_arrays``
    (integer labels ``0 … K−1``, or one-hot rows, whose width is ``K``)."""
    if not label_arrays:
        raise ValueError("count_classes needs at least one array of labels")
    counts = []
    for labels in label_arrays:
        labels = np.asarray(labels)
        if labels.ndim == 2:
            counts.append(labels.shape[1])
        elif labels.ndim == 1 and labels.size:
            counts.append(int(labels.max()) + 1)
        elif labels.ndim != 1:
            raise ValueError(f"labels must be 1-D class indices or 2-D one-hot rows, got shape {labels.shape}")
    if not counts:
        raise ValueError("count_classes: every label array is empty")
    return max(counts)


def load_dataset(name: str = "digits", **kwargs):
    """``(x_train, t_train), (x_test, t_test)`` for ``name`` in 'digits', 'mnist', 'spirals', 'moons'.

    Common keywords: ``normalize``, ``flatten``, ``one_hot_label``, ``seed``, ``dtype``. MNIST has a
    fixed official split, so ``seed`` does not change it; the toys also take ``n_per_class``,
    ``noise``, ``test_fraction`` (and ``n_classes`` for spirals).
    """
    if name == "digits":
        return load_digits(**kwargs)
    if name == "mnist":
        kwargs.pop("seed", None)
        return load_mnist(**kwargs)
    if name == "spirals":
        return _load_toy(make_spirals, **kwargs)
    if name == "moons":
        return _load_toy(make_moons, **kwargs)
    raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(map(repr, DATASETS))}.")


def train_validation_split(x, t, validation_fraction: float = 0.2, seed: int = 0, *, stratify: bool = False):
    """Hold out a shuffled ``validation_fraction`` of ``(x, t)``: returns ``(x_train, t_train), (x_val, t_val)``.

    Hyperparameters are tuned on the validation part so the test set stays an unbiased final
    measurement. ``stratify=True`` keeps class proportions (``t`` must then be class indices).
    """
    x, t = np.asarray(x), np.asarray(t)
    if len(x) != len(t):
        raise ValueError(f"x has {len(x)} samples but t has {len(t)}.")
    _check_fraction("validation_fraction", validation_fraction)
    if stratify and t.ndim != 1:
        raise ValueError(f"stratify=True needs t as class indices (1-D), got shape {t.shape}.")
    train, validation = _split_indices(t, validation_fraction, seed, stratify)
    if len(train) == 0 or len(validation) == 0:
        raise ValueError(f"validation_fraction={validation_fraction} of {len(t)} samples leaves an empty part.")
    return (x[train], t[train]), (x[validation], t[validation])
