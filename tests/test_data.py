"""lib.data: the MNIST loader against a local HTTP server serving IDX files made here, the real MNIST
test split when ../shared/data/mnist exists, and the offline data sets and split helpers.

No test touches the real network: every mirror is 127.0.0.1.
"""

import gzip
import hashlib
import http.server
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

import lib.data as data
from lib.data import MNISTUnavailableError

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
N_TRAIN, N_TEST = 12, 7


# --------------------------------------------------------------------------------------- fixtures

def idx_bytes(array: np.ndarray) -> bytes:
    """Uncompressed IDX encoding of a uint8 array, written independently of lib.data's parser."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


class FakeMirror:
    """Serves ``routes[path] = (behaviour, body)`` on 127.0.0.1; behaviour is 'ok' or 'cut' (announce the
    full length, send half, close). Paths without a route get 404. ``hits`` records every request."""

    def __init__(self):
        self.routes, self.hits = {}, []
        mirror = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                mirror.hits.append(self.path)
                behaviour, body = mirror.routes.get(self.path, (None, b""))
                if behaviour is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body if behaviour == "ok" else body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def url(self, prefix: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{prefix}/"

    def serve(self, prefix: str, files: dict, behaviour: str = "ok"):
        for name, body in files.items():
            self.routes[f"/{prefix}/{name}"] = (behaviour, body)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture(autouse=True)
def no_real_network(monkeypatch):
    """A test that forgets to pass mirrors= must fail fast here, never reach the internet."""
    monkeypatch.setattr(data, "DEFAULT_MIRRORS", (unused_port_url(),))


@pytest.fixture
def mirror():
    server = FakeMirror()
    yield server
    server.close()


@pytest.fixture
def fake_mnist(monkeypatch):
    """Small IDX files with MNIST's names and layout; lib.data is pointed at their hashes and shapes.
    Returns (gz bytes by file name, arrays by (split, kind))."""
    rng = np.random.default_rng(0)
    arrays = {
        ("train", "images"): rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        ("train", "labels"): rng.integers(0, 10, N_TRAIN, dtype=np.uint8),
        ("test", "images"): rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        ("test", "labels"): rng.integers(0, 10, N_TEST, dtype=np.uint8),
    }
    specs, files = {}, {}
    for key, array in arrays.items():
        raw = idx_bytes(array)
        name = data.MNIST_FILES[key].filename
        specs[key] = data._IdxFile(name, hashlib.sha256(raw).hexdigest(), array.shape)
        files[name] = gzip.compress(raw, mtime=0)
    monkeypatch.setattr(data, "MNIST_FILES", specs)
    return files, arrays


def unused_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def leftovers(directory: Path):
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def tampered(files: dict, name: str) -> dict:
    """The same files with one pixel of ``name`` changed, recompressed: valid gzip, valid IDX, wrong hash."""
    raw = bytearray(gzip.decompress(files[name]))
    raw[-1] ^= 0xFF
    return {**files, name: gzip.compress(bytes(raw), mtime=0)}


TRAIN_IMAGES = "train-images-idx3-ubyte.gz"


# ------------------------------------------------------------------------------------ IDX parsing

def test_parse_idx_round_trips_uint8_and_wider_types():
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(data.parse_idx(idx_bytes(images)), images)
    values = np.array([-2, 70000, 3], dtype=">i4")
    parsed = data.parse_idx(bytes([0, 0, 0x0C, 1]) + (3).to_bytes(4, "big") + values.tobytes())
    assert parsed.dtype == np.dtype("int32") and parsed.dtype.isnative
    np.testing.assert_array_equal(parsed, [-2, 70000, 3])


@pytest.mark.parametrize("payload, message", [
    (b"\x00\x00", "too short"),
    (b"\x1f\x8b\x08\x00" + bytes(20), "bad IDX magic"),           # a gzip file passed undecompressed
    (bytes([0, 0, 0x07, 1]) + (1).to_bytes(4, "big") + b"\x00", "bad IDX magic"),
    (bytes([0, 0, 0x08, 3]) + (2).to_bytes(4, "big"), "declares 3 dimensions"),
    (bytes([0, 0, 0x08, 1]) + (5).to_bytes(4, "big") + bytes(4), "truncated"),
    (bytes([0, 0, 0x08, 1]) + (5).to_bytes(4, "big") + bytes(6), "truncated"),
])
def test_parse_idx_rejects_malformed_files_by_name(payload, message):
    with pytest.raises(ValueError, match=message) as caught:
        data.parse_idx(payload, "some-file")
    assert "some-file" in str(caught.value)


# ------------------------------------------------------------------------------------- downloading

def test_download_verifies_caches_and_then_works_offline(mirror, fake_mnist, tmp_path):
    files, arrays = fake_mnist
    mirror.serve("a", files)
    (x_train, t_train), (x_test, t_test) = data.load_mnist(data_dir=tmp_path, mirrors=[mirror.url("a")])

    assert x_train.shape == (N_TRAIN, 784) and x_test.shape == (N_TEST, 784)
    assert x_train.dtype == np.float32 and t_train.dtype == np.int64
    np.testing.assert_allclose(x_train, arrays[("train", "images")].reshape(N_TRAIN, -1) / 255, rtol=1e-6)
    np.testing.assert_array_equal(t_test, arrays[("test", "labels")])
    assert leftovers(tmp_path) == sorted(files)
    for name, body in files.items():
        assert (tmp_path / name).read_bytes() == body
    assert len(mirror.hits) == 4

    # Served from the verified cache: no request, even with no mirror at all.
    (x_again, _), _ = data.load_mnist(data_dir=tmp_path, mirrors=())
    np.testing.assert_array_equal(x_again, x_train)
    assert len(mirror.hits) == 4


def test_default_mirrors_are_used_when_none_are_given(mirror, fake_mnist, tmp_path, monkeypatch):
    files, arrays = fake_mnist
    mirror.serve("default", files)
    monkeypatch.setattr(data, "DEFAULT_MIRRORS", (mirror.url("default"),))
    _, (_, t_test) = data.load_mnist(data_dir=tmp_path)
    np.testing.assert_array_equal(t_test, arrays[("test", "labels")])
    assert len(mirror.hits) == 4


def test_load_mnist_layouts_and_one_hot(mirror, fake_mnist, tmp_path):
    files, arrays = fake_mnist
    mirror.serve("a", files)
    x, t = data.load_mnist_split("test", flatten=False, normalize=False, one_hot_label=True,
                                 data_dir=tmp_path, mirrors=[mirror.url("a")])
    assert x.shape == (N_TEST, 1, 28, 28) and x.dtype == np.uint8
    np.testing.assert_array_equal(x[:, 0], arrays[("test", "images")])
    assert t.shape == (N_TEST, 10)
    np.testing.assert_array_equal(t.argmax(axis=1), arrays[("test", "labels")])
    np.testing.assert_array_equal(t.sum(axis=1), 1)
    with pytest.raises(ValueError, match="'train' or 'test'"):
        data.load_mnist_split("validation", data_dir=tmp_path, mirrors=())


def test_checksum_failure_caches_nothing_and_names_file_and_both_hashes(mirror, fake_mnist, tmp_path):
    files, _ = fake_mnist
    bad = tampered(files, TRAIN_IMAGES)
    mirror.serve("a", bad)
    with pytest.raises(MNISTUnavailableError) as caught:
        data.load_mnist(data_dir=tmp_path, mirrors=[mirror.url("a")])
    message = str(caught.value)
    expected = data.MNIST_FILES[("train", "images")].sha256
    served = hashlib.sha256(gzip.decompress(bad[TRAIN_IMAGES])).hexdigest()
    assert TRAIN_IMAGES in message and expected in message and served in message
    assert "nothing was cached" in message
    assert leftovers(tmp_path) == []


def test_interrupted_download_caches_nothing_and_the_next_call_retries(mirror, fake_mnist, tmp_path):
    files, _ = fake_mnist
    mirror.serve("a", files, behaviour="cut")
    with pytest.raises(MNISTUnavailableError, match="connection closed after"):
        data.load_mnist(data_dir=tmp_path, mirrors=[mirror.url("a")])
    assert leftovers(tmp_path) == []

    mirror.serve("a", files)
    (x_train, _), _ = data.load_mnist(data_dir=tmp_path, mirrors=[mirror.url("a")])
    assert x_train.shape == (N_TRAIN, 784)
    assert mirror.hits.count(f"/a/{TRAIN_IMAGES}") == 2
    assert leftovers(tmp_path) == sorted(files)


def test_later_mirror_used_when_earlier_ones_fail_or_serve_bad_bytes(mirror, fake_mnist, tmp_path):
    files, arrays = fake_mnist
    mirror.serve("bad", tampered(files, TRAIN_IMAGES))
    mirror.serve("good", files)
    mirrors = [unused_port_url(), mirror.url("missing"), mirror.url("bad"), mirror.url("good")]
    (x_train, _), _ = data.load_mnist(data_dir=tmp_path, mirrors=mirrors, normalize=False)
    np.testing.assert_array_equal(x_train.reshape(N_TRAIN, 28, 28), arrays[("train", "images")])
    tried = [hit for hit in mirror.hits if hit.endswith(TRAIN_IMAGES)]
    assert tried == [f"/missing/{TRAIN_IMAGES}", f"/bad/{TRAIN_IMAGES}", f"/good/{TRAIN_IMAGES}"]
    assert leftovers(tmp_path) == sorted(files)


def test_file_with_the_right_hash_but_an_unexpected_shape_is_rejected(mirror, fake_mnist, tmp_path, monkeypatch):
    files, _ = fake_mnist
    mirror.serve("a", files)
    spec = data.MNIST_FILES[("test", "images")]
    monkeypatch.setitem(data.MNIST_FILES, ("test", "images"), data._IdxFile(spec.filename, spec.sha256, (N_TEST, 784)))
    with pytest.raises(MNISTUnavailableError, match=r"shape \(7, 28, 28\), expected \(7, 784\)"):
        data.load_mnist_split("test", data_dir=tmp_path, mirrors=[mirror.url("a")])
    assert spec.filename not in leftovers(tmp_path)


def test_offline_error_says_what_to_do(fake_mnist, tmp_path):
    target = tmp_path / "cache"
    with pytest.raises(MNISTUnavailableError) as caught:
        data.load_mnist(data_dir=target, mirrors=[unused_port_url()], timeout=2)
    message = str(caught.value)
    assert "no mirror was reachable" in message and str(target) in message
    assert "load_dataset('digits')" in message
    assert all(spec.filename in message for spec in data.MNIST_FILES.values())
    assert leftovers(target) == []

    with pytest.raises(MNISTUnavailableError, match=r"downloading is disabled \(mirrors=\(\)\)"):
        data.load_mnist(data_dir=target, mirrors=())


@pytest.mark.parametrize("corruption", ["truncated", "wrong content", "not gzip"])
def test_corrupt_cached_file_is_detected_and_fetched_again(mirror, fake_mnist, tmp_path, corruption):
    files, arrays = fake_mnist
    for name, body in files.items():
        (tmp_path / name).write_bytes(body)
    cached = tmp_path / TRAIN_IMAGES
    cached.write_bytes({"truncated": files[TRAIN_IMAGES][:-40],
                        "wrong content": tampered(files, TRAIN_IMAGES)[TRAIN_IMAGES],
                        "not gzip": b"<html>rate limited</html>"}[corruption])
    mirror.serve("a", files)
    (x_train, _), _ = data.load_mnist(data_dir=tmp_path, mirrors=[mirror.url("a")], normalize=False)
    np.testing.assert_array_equal(x_train.reshape(N_TRAIN, 28, 28), arrays[("train", "images")])
    assert cached.read_bytes() == files[TRAIN_IMAGES]
    assert mirror.hits == [f"/a/{TRAIN_IMAGES}"]


def test_default_cache_dir_follows_course_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    assert data.default_mnist_dir() == tmp_path / "mnist"
    monkeypatch.delenv("COURSE_DATA_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data.default_mnist_dir() == tmp_path / ".cache" / "training-techniques-course" / "mnist"


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason=f"real MNIST test split not found at {SHARED_MNIST}")
def test_real_mnist_test_split_matches_its_published_facts():
    x, t = data.load_mnist_split("test", data_dir=SHARED_MNIST, mirrors=())
    assert x.shape == (10000, 784) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_array_equal(t[:10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
    np.testing.assert_array_equal(np.bincount(t, minlength=10),
                                  [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
    images, _ = data.load_mnist_split("test", data_dir=SHARED_MNIST, mirrors=(), flatten=False, normalize=False)
    assert images.shape == (10000, 1, 28, 28) and images.dtype == np.uint8


# ----------------------------------------------------------------------------- offline data sets

def test_digits_shapes_range_and_dtype():
    (x_train, t_train), (x_test, _) = data.load_digits()
    assert x_train.shape == (1438, 64) and x_test.shape == (359, 64)
    assert x_train.dtype == np.float64 and t_train.dtype == np.int64
    assert x_train.min() == 0.0 and x_train.max() == 1.0 and x_test.max() <= 1.0
    (raw, _), _ = data.load_digits(normalize=False, flatten=False, dtype=np.float32)
    assert raw.shape == (1438, 1, 8, 8) and raw.dtype == np.float32 and raw.max() == 16.0
    (_, one_hot), _ = data.load_digits(one_hot_label=True)
    np.testing.assert_array_equal(one_hot.argmax(axis=1), t_train)
    np.testing.assert_array_equal(one_hot.sum(axis=1), 1)


DIGITS_CLASS_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_digits_are_scikit_learns_bundled_data():
    # Hashes of sklearn.datasets.load_digits() (data as little-endian float64, target as int64),
    # computed with scikit-learn 1.9; lib.data reads the same bundled file without importing sklearn.
    pixels, target = data._digits_arrays()
    assert pixels.shape == (1797, 64)
    assert hashlib.sha256(pixels.astype("<f8").tobytes()).hexdigest() == \
        "20def7f70a702f0af9732fbba4375e147a7d54fe70d8c45569b8e7c1c7010c10"
    assert hashlib.sha256(target.astype("<i8").tobytes()).hexdigest() == \
        "a3c91c262eddcf7ba8f0e37507c30284493c9b20412ffe4af30d536401f7ba21"
    np.testing.assert_array_equal(np.bincount(target), DIGITS_CLASS_COUNTS)


def test_digits_split_is_deterministic_stratified_and_a_partition():
    (x_a, t_a), (xt_a, tt_a) = data.load_digits(seed=3)
    (x_b, t_b), _ = data.load_digits(seed=3)
    (x_c, _), _ = data.load_digits(seed=4)
    np.testing.assert_array_equal(x_a, x_b)
    np.testing.assert_array_equal(t_a, t_b)
    assert not np.array_equal(x_a, x_c)

    # Shuffled across classes: mini-batches drawn in order would otherwise hold a single digit.
    assert len(np.unique(t_a[:30])) >= 6 and len(np.unique(tt_a[:30])) >= 6
    per_class = np.array(DIGITS_CLASS_COUNTS)
    test_counts = np.bincount(tt_a, minlength=10)
    np.testing.assert_array_equal(np.bincount(t_a, minlength=10) + test_counts, per_class)
    assert np.all(np.abs(test_counts - 0.2 * per_class) <= 0.5)
    # Every image lands on exactly one side: the multiset of rows is the whole data set.
    every = np.sort(np.concatenate([x_a, xt_a]) @ np.arange(1, 65.0))
    np.testing.assert_allclose(every, np.sort(data._digits_arrays()[0] / 16 @ np.arange(1, 65.0)))


@pytest.mark.parametrize("name, n_classes", [("spirals", 3), ("moons", 2)])
def test_toy_sets(name, n_classes):
    (x_train, _), (x_test, t_test) = data.load_dataset(name, n_per_class=50, seed=1)
    assert x_train.shape == (40 * n_classes, 2) and x_test.shape == (10 * n_classes, 2)
    np.testing.assert_array_equal(np.bincount(t_test), [10] * n_classes)
    (again, _), _ = data.load_dataset(name, n_per_class=50, seed=1)
    np.testing.assert_array_equal(again, x_train)
    assert np.all(np.abs(x_train) < 3)


def test_spirals_are_not_linearly_separable_but_noise_free_arms_are_spirals():
    x, t = data.make_spirals(200, n_classes=3, noise=0.0, seed=0)
    radius = np.hypot(x[:, 0], x[:, 1])
    np.testing.assert_allclose(radius[t == 0], np.linspace(0, 1, 200), atol=1e-12)
    # A least-squares linear classifier stays far from perfect on spirals.
    features = np.column_stack([x, np.ones(len(x))])
    weights, *_ = np.linalg.lstsq(features, np.eye(3)[t], rcond=None)
    assert np.mean((features @ weights).argmax(axis=1) == t) < 0.7


def test_load_dataset_dispatches_and_rejects_unknown_names(mirror, fake_mnist, tmp_path):
    (x_digits, _), _ = data.load_dataset("digits", seed=2)
    (x_direct, _), _ = data.load_digits(seed=2)
    np.testing.assert_array_equal(x_digits, x_direct)
    files, _ = fake_mnist
    mirror.serve("a", files)
    (x_mnist, _), (x_mnist_test, _) = data.load_dataset("mnist", seed=5, data_dir=tmp_path, mirrors=[mirror.url("a")])
    assert x_mnist.shape == (N_TRAIN, 784) and x_mnist_test.shape == (N_TEST, 784)
    with pytest.raises(ValueError, match="'digits', 'mnist', 'spirals', 'moons'"):
        data.load_dataset("cifar10")


# ------------------------------------------------------------------------------- validation split

def test_train_validation_split_partitions_deterministically():
    x = np.arange(100).reshape(50, 2)
    t = np.arange(50) % 5
    (x_train, t_train), (x_val, _) = data.train_validation_split(x, t, 0.2, seed=7)
    assert len(x_val) == 10 and len(x_train) == 40
    np.testing.assert_array_equal(np.sort(np.concatenate([x_train, x_val])[:, 0]), x[:, 0])
    np.testing.assert_array_equal(t_train, x_train[:, 0] // 2 % 5)  # pairs stay together
    assert not np.array_equal(x_train[:, 0], np.sort(x_train[:, 0]))  # shuffled
    (again, _), _ = data.train_validation_split(x, t, 0.2, seed=7)
    np.testing.assert_array_equal(again, x_train)
    (other, _), _ = data.train_validation_split(x, t, 0.2, seed=8)
    assert not np.array_equal(other, x_train)
    _, (_, t_strat) = data.train_validation_split(x, t, 0.2, seed=7, stratify=True)
    np.testing.assert_array_equal(np.bincount(t_strat), [2] * 5)


@pytest.mark.parametrize("args, message", [
    ((np.zeros((5, 2)), np.zeros(4)), "x has 5 samples but t has 4"),
    ((np.zeros((5, 2)), np.zeros(5), 1.0), "strictly between 0 and 1"),
    ((np.zeros((5, 2)), np.zeros(5), 0.01), "empty part"),
])
def test_train_validation_split_rejects_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        data.train_validation_split(*args)
