"""Checks for chapter 6's exercises: averaging an ensemble, a shift augmentation, freezing layers, and
choosing a transfer strategy from a measured table.

- ``ens-average``: ``ensemble_predict(member_probabilities) -> labels`` averages the members' class
  probabilities (shape (members, samples, classes)) and returns the most probable class per sample.
- ``aug-shift``:   ``random_shift(x, t, rng) -> (x_shifted, t)`` moves every flattened square image by its own
  random (dx, dy) in {−1, 0, 1}², filling with zeros; labels, shapes and dtypes unchanged.
- ``tl-freeze``:   ``update_trainable(optimizer, params, grads, trainable)`` updates only the keys in
  ``trainable``, in place; frozen parameters provably unchanged.
- ``tl-choose``:   ``ANSWERS = {"q1": …, "q2": …, "q3": …}`` read from the measured table; keys are salted
  digests (``answer_digest``), never the letters.
- ``ens-diagnose``: which cause explains an ensemble no better than its members (a letter, digest key).
- ``ens-diagnose-fix``: ``member_generators(k, seed) -> [Generator] * k``, one random stream per member:
  distinct within an ensemble, reproducible from ``seed``, never shared with another seed's ensemble; the
  check then trains its own ensemble from them and its members must disagree.

Expected values come from the formula or from the course's own implementation run on private copies,
never from the student's objects; messages say what is wrong, never the expected value.
"""

from __future__ import annotations

import copy

import numpy as np

from lib.checks.core import answer_digest, call_student, choice_letter, expect_array, fail, passed
from lib.chapters.ch06_ensembles_augmentation_transfer.experiments import shift_images
from lib.optimizers import SGD, AdamW, Momentum

__all__ = ["check_ensemble_predict", "check_random_shift", "check_update_trainable", "check_transfer_choice",
           "show_transfer_table", "TRANSFER_TABLE", "TRANSFER_QUESTIONS", "show_broken_ensemble",
           "check_ensemble_diagnosis", "check_member_generators"]


# --------------------------------------------------------------------------- ens-average

def _member_probabilities(seed: int = 11, members: int = 5, samples: int = 300, classes: int = 4) -> np.ndarray:
    """Random class probabilities of a few members, some confident and some undecided (Dirichlet rows with
    a small or a large concentration), so that averaging probabilities, voting, averaging log-probabilities
    and trusting the most confident member give different labels on many samples."""
    rng = np.random.default_rng(seed)
    concentration = rng.choice([0.3, 3.0], size=(members, samples, 1))
    gamma = rng.gamma(np.broadcast_to(concentration, (members, samples, classes)))
    return gamma / gamma.sum(axis=2, keepdims=True)


def _vote(p: np.ndarray) -> np.ndarray:
    labels = p.argmax(axis=2)
    counts = np.stack([(labels == c).sum(axis=0) for c in range(p.shape[2])], axis=1)
    return counts.argmax(axis=1)


def check_ensemble_predict(ensemble_predict) -> None:
    """``ensemble_predict(p)`` must return argmax_c of the members' mean probability, one label per sample."""
    exercise = "ens-average"
    for members, samples, classes, seed in ((5, 300, 4, 11), (3, 200, 10, 12)):
        p = _member_probabilities(seed, members, samples, classes)
        what = f"ensemble_predict(p) with p of shape {p.shape} (members, samples, classes)"
        got = call_student(exercise, what, ensemble_predict, p)
        if type(got) is np.ndarray and got.shape == (samples, classes):
            fail(exercise, f"{what}: returned an array of shape {got.shape}, probabilities per sample — return one "
                           f"class label per sample (np.argmax over the classes).")
        if type(got) is np.ndarray and got.shape == (members, classes):
            fail(exercise, f"{what}: returned shape {got.shape}: you averaged over the samples (axis 1) instead of "
                           f"the members (axis 0).")
        if type(got) is np.ndarray and got.dtype.kind == "f":
            fail(exercise, f"{what}: returned floats ({got.dtype}); class labels are integers (np.argmax returns them).")
        expected = p.mean(axis=0).argmax(axis=1)
        likely = {
            "a majority vote of the members' labels: averaging the probabilities lets a confident member "
            "outweigh several undecided ones — average p first, then take the argmax.": _vote(p),
            "you averaged log-probabilities (a geometric mean); the exercise asks for the arithmetic mean of "
            "the probabilities.": np.log(p).mean(axis=0).argmax(axis=1),
            "you took the single most confident member's answer (a max over members), not the average.":
                p.max(axis=0).argmax(axis=1),
            "only the first member's prediction: the average must run over all members (axis 0).": p[0].argmax(axis=1),
            "the last member's prediction only: the average must run over all members (axis 0).": p[-1].argmax(axis=1),
        }
        if type(got) is np.ndarray and got.dtype.kind in "iu":
            got = got.astype(np.int64, copy=False)
        expect_array(exercise, what, got, expected.astype(np.int64), rtol=0, atol=0, likely_bugs=likely)
    passed(exercise, "labels from the members' averaged probabilities")


# --------------------------------------------------------------------------- aug-shift

def _rolled(x: np.ndarray, dx: int, dy: int, side: int) -> np.ndarray:
    return np.roll(x.reshape(-1, side, side), (dy, dx), axis=(1, 2)).reshape(x.shape)


def _flat_shift(x: np.ndarray, step: int) -> np.ndarray:
    """The flattened vector moved by ``step`` entries with zero fill: a pixel leaving one row enters the next."""
    out = np.zeros_like(x)
    if step > 0:
        out[:, step:] = x[:, :-step]
    elif step < 0:
        out[:, :step] = x[:, -step:]
    else:
        out[:] = x
    return out


_MOVES = [(dx, dy) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]


def _classify(image: np.ndarray, original: np.ndarray, side: int) -> tuple[str, tuple[int, int] | None]:
    """Which kind of transform of ``original`` ``image`` is: a zero-filled shift (and which), a wrapped
    one, a shift of the flat vector, or none of them."""
    single = original[None]
    for move in _MOVES:
        if np.array_equal(image, shift_images(single, *move)[0]):
            return "shift", move
    for move in _MOVES:
        if np.array_equal(image, _rolled(single, *move, side)[0]):
            return "wrapped", move
    for dx, dy in _MOVES:
        if dx and np.array_equal(image, _flat_shift(single, dx + side * dy)[0]):
            return "flat", None
    return "other", None


def check_random_shift(random_shift) -> None:
    """``random_shift(x, t, rng)`` must return every image moved by its own (dx, dy) ∈ {−1, 0, 1}² (zero fill),
    the labels unchanged and in order, shapes and dtypes kept, the input untouched, reproducible from rng."""
    exercise = "aug-shift"
    side, n = 8, 240
    data_rng = np.random.default_rng(21)
    for dtype in (np.float64, np.float32):
        # Random pixels everywhere (digits have empty borders, which would hide a wrap-around).
        original = data_rng.random((n, side * side)).astype(dtype)
        labels = data_rng.integers(0, 10, n)
        x, t = original.copy(), labels.copy()
        what = f"random_shift(x, t, rng) with x of shape {x.shape} ({np.dtype(dtype).name})"
        result = call_student(exercise, what, lambda: random_shift(x, t, np.random.default_rng(5)))
        if not np.array_equal(x, original):
            fail(exercise, f"{what} changed the input images x in place: build a new array and leave x as it was "
                           f"(the caller still needs the originals for the next epoch).")
        if not np.array_equal(t, labels):
            fail(exercise, f"{what} changed the input labels t in place.")
        if type(result) is not tuple or len(result) != 2:
            fail(exercise, f"{what} must return a tuple (x_shifted, t), got {type(result).__name__}"
                           + (f" of length {len(result)}" if type(result) is tuple else "") + ".")
        shifted, new_labels = result
        if type(shifted) is not np.ndarray:
            fail(exercise, f"{what}: the images must be a numpy array, got {type(shifted).__name__}.")
        if shifted.shape != x.shape:
            fail(exercise, f"{what}: the images have shape {shifted.shape}; keep the input's shape {x.shape} "
                           f"(reshape to (N, {side}, {side}) to shift, then back).")
        if shifted.dtype != x.dtype:
            fail(exercise, f"{what}: the images have dtype {shifted.dtype}, the input {x.dtype}: keep the dtype.")
        if type(new_labels) is not np.ndarray or new_labels.shape != t.shape:
            fail(exercise, f"{what}: the labels must be returned as an array of shape {t.shape}, got "
                           f"{type(new_labels).__name__}"
                           + (f" of shape {new_labels.shape}" if type(new_labels) is np.ndarray else "") + ".")
        if not np.array_equal(new_labels, labels):
            if np.array_equal(np.sort(new_labels), np.sort(labels)):
                fail(exercise, f"{what}: the labels are reordered — image i must keep label t[i]. A shift is "
                               f"label-preserving: return the labels unchanged, in the same order.")
            fail(exercise, f"{what}: the labels changed; a shift by one pixel does not change which digit it is: "
                           f"return t unchanged.")
        moves = []
        for i in range(n):
            kind, move = _classify(shifted[i], original[i], side)
            if kind == "wrapped":
                fail(exercise, f"{what}: image {i}'s pixels that leave one edge come back at the opposite edge: "
                               f"np.roll wraps around. Pixels entering the image must be 0.")
            if kind == "flat":
                fail(exercise, f"{what}: image {i} was shifted as a flat vector of {side * side} pixels, so a pixel "
                               f"leaving one row enters the next; reshape to ({side}, {side}) first.")
            if kind == "other":
                fail(exercise, f"{what}: image {i} is not its input moved by at most one pixel in each direction "
                               f"(with zeros filled in): was it flipped, transposed, rescaled or moved further?")
            moves.append(move)
        distinct = set(moves)
        if len(distinct) == 1:
            fail(exercise, f"{what}: every image got the same shift {moves[0]}: draw a separate (dx, dy) for each image.")
        if {dy for _, dy in distinct} == {0} or {dx for dx, _ in distinct} == {0}:
            fail(exercise, f"{what}: the images move in one direction only; draw dx and dy, each from {{−1, 0, 1}}.")
        if len(distinct) < len(_MOVES):
            fail(exercise, f"{what}: only {len(distinct)} of the 9 possible (dx, dy) pairs occur in {n} images: "
                           f"draw dx and dy independently, each uniformly from {{−1, 0, 1}}.")
        again = call_student(exercise, what, lambda: random_shift(original.copy(), labels.copy(), np.random.default_rng(5)))
        if type(again) is not tuple or not np.array_equal(again[0], shifted):
            fail(exercise, f"{what}: two calls with generators of the same seed gave different images: draw the "
                           f"shifts from the rng you are given (not from np.random), so runs can be repeated.")
    passed(exercise, "each image its own one-pixel shift, zeros filled in, labels and shapes kept")


# --------------------------------------------------------------------------- tl-freeze

def _network_params(seed: int = 31) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    shapes = {"W1": (6, 5), "b1": (5,), "W2": (5, 4), "b2": (4,), "W3": (4, 3), "b3": (3,)}
    params = {key: rng.normal(size=shape) for key, shape in shapes.items()}
    grads = [{key: rng.normal(size=shape) for key, shape in shapes.items()} for _ in range(3)]
    return params, grads


def _run(make_optimizer, update, params, grads_list, trainable):
    """Apply ``update`` for every gradient dict to a deep copy of ``params``; returns (params, optimizer)."""
    params = copy.deepcopy(params)
    optimizer = make_optimizer()
    for grads in grads_list:
        update(optimizer, params, copy.deepcopy(grads), trainable)
    return params, optimizer


def _reference(optimizer, params, grads, trainable):
    optimizer.update({k: params[k] for k in trainable}, {k: grads[k] for k in trainable})


def _zero_frozen(optimizer, params, grads, trainable):
    optimizer.update(params, {k: (g if k in trainable else np.zeros_like(g)) for k, g in grads.items()})


def _everything(optimizer, params, grads, trainable):
    optimizer.update(params, grads)


def _same(a: dict, b: dict, key: str) -> bool:
    return np.allclose(a[key], b[key], rtol=1e-12, atol=1e-15)


def check_update_trainable(update_trainable) -> None:
    """``update_trainable(optimizer, params, grads, trainable)`` must update the arrays of the keys in
    ``trainable`` in place, exactly as the optimizer would, and leave every other parameter — and the
    optimizer's state for it — untouched, over several steps and for optimizers with momentum and
    decoupled weight decay."""
    exercise = "tl-freeze"
    start, grads_list = _network_params()
    optimizers = (("SGD(lr=0.1)", lambda: SGD(lr=0.1)), ("Momentum(lr=0.1, momentum=0.9)", lambda: Momentum(0.1, 0.9)),
                  ("AdamW(lr=0.01, weight_decay=0.5)", lambda: AdamW(lr=0.01, weight_decay=0.5)))
    for trainable in (("W3", "b3"), ("W2", "b2", "W3", "b3")):
        frozen = [key for key in start if key not in trainable]
        for name, make in optimizers:
            what = f"update_trainable({name}, params, grads, trainable={trainable}) over {len(grads_list)} steps"
            params = copy.deepcopy(start)
            arrays = {key: params[key] for key in params}
            optimizer = make()
            for grads in grads_list:
                call_student(exercise, what, lambda: update_trainable(optimizer, params, copy.deepcopy(grads), trainable))
            if set(params) != set(start):
                fail(exercise, f"{what}: params now has keys {sorted(params)}; update the arrays in place and keep the dict as it is.")
            for key in params:
                if params[key] is not arrays[key]:
                    fail(exercise, f"{what}: params['{key}'] was replaced by a new array; the network's layers hold the "
                                   f"original arrays, so update them in place (the optimizer does when given them).")
            expected, _ = _run(make, _reference, start, grads_list, trainable)
            for key in frozen:
                if np.array_equal(params[key], start[key]):
                    continue
                zeroed, _ = _run(make, _zero_frozen, start, grads_list, trainable)
                everything, _ = _run(make, _everything, start, grads_list, trainable)
                if all(np.array_equal(params[k], start[k]) for k in trainable):
                    fail(exercise, f"{what}: frozen parameter '{key}' was updated and the trainable ones were not: "
                                   f"`trainable` lists the keys to update.")
                if _same(params, zeroed, key):
                    fail(exercise, f"{what}: frozen parameter '{key}' changed although its gradient was zeroed: "
                                   f"momentum from earlier steps and decoupled weight decay still move a parameter "
                                   f"the optimizer is given. Leave frozen parameters out of optimizer.update.")
                if _same(params, everything, key):
                    fail(exercise, f"{what}: frozen parameter '{key}' was updated like the others: hand only the "
                                   f"trainable keys (parameters and gradients) to optimizer.update.")
                fail(exercise, f"{what}: frozen parameter '{key}' changed; it must stay exactly as it was.")
            for key in trainable:
                if np.array_equal(params[key], start[key]):
                    fail(exercise, f"{what}: trainable parameter '{key}' did not change. Did you hand the optimizer "
                                   f"copies (.copy(), np.array(...))? It updates the arrays it is given in place.")
                expect_array(exercise, f"{what}: params['{key}']", params[key], expected[key], rtol=1e-10, atol=1e-12)
            state = getattr(optimizer, "_m_sum", None) or getattr(optimizer, "v", None) or {}
            extra = sorted(set(state) - set(trainable))
            if extra:
                fail(exercise, f"{what}: the optimizer keeps state for frozen parameter(s) {extra}: it was handed them. "
                               f"Even with a zero gradient, the momentum or weight decay it keeps for them can move them "
                               f"later: leave frozen parameters out of optimizer.update.")
    passed(exercise, "only the trainable keys move, in place; frozen ones bit-for-bit unchanged (SGD, Momentum, AdamW)")


# --------------------------------------------------------------------------- tl-choose

# Mean target test accuracy per arm, measured by the chapter (experiments.transfer_study over seeds 0–9;
# tests/test_claims_ch06.py checks these numbers against a fresh run).
TRANSFER_ARMS = ("from scratch", "linear on frozen features", "fine-tune last layer", "fine-tune all, lower η")
TRANSFER_TABLE = {
    ("little", "similar"): (0.686, 0.754, 0.738, 0.745),
    ("little", "different"): (0.698, 0.633, 0.650, 0.664),
    ("much", "similar"): (0.895, 0.925, 0.942, 0.938),
    ("much", "different"): (0.884, 0.725, 0.790, 0.799),
}
TRANSFER_SIZES = {"little": 10, "much": 600}

TRANSFER_QUESTIONS = {
    "q1": "You have 600 labelled images for a task whose images look nothing like the pretraining images. "
          "Which arm does the table support?",
    "q2": "You have 600 labelled images for a task like the pretraining one. Which arm does the table support?",
    "q3": "Which statement does the table support? (a) pretrained features help whatever the task; (b) freezing "
          "pretrained layers pays only when the task is similar; (c) with 10 images, fine-tuning everything is "
          "best; (d) training from scratch is worst in every cell.",
}
_HINTS = {
    "q1": "find the row 'much data, different task' and the arm with the highest mean accuracy in it",
    "q2": "find the row 'much data, similar task' and the arm with the highest mean accuracy in it",
    "q3": "compare 'linear on frozen features' with 'from scratch' in the similar and in the different rows, "
          "and check each statement against every cell",
}
_ANSWER_DIGESTS = {
    "q1": "641144988813c719b8d6e7e2690ed37850d77417dd17c93e02edd9ba4462b8b1",
    "q2": "3d8e55a0b8aaac4a02b81db70693e7327dff9750b56ef2d247815676971c4814",
    "q3": "11ee614464877d703401ca5ef6bb67f2ab478e31258ac4304776f60cd57c0b01",
}


def show_transfer_table() -> None:
    """Print the measured table the tl-choose questions refer to, and the questions."""
    print(f"mean target test accuracy over 10 seeds (little = {TRANSFER_SIZES['little']}, "
          f"much = {TRANSFER_SIZES['much']} target images)")
    print(f"{'':<26}" + "".join(f"({letter}) {arm:<27}" for letter, arm in zip("abcd", TRANSFER_ARMS)))
    for (data, task), means in TRANSFER_TABLE.items():
        print(f"{data + ' data, ' + task:<26}" + "".join(f"{value:<31.3f}" for value in means))
    print()
    for key, question in TRANSFER_QUESTIONS.items():
        print(f"{key}: {question}")


def check_transfer_choice(answers) -> None:
    """``answers`` must be a dict {"q1": letter, "q2": letter, "q3": letter} matching the stored digests."""
    exercise = "tl-choose"
    if answers is None:
        fail(exercise, "ANSWERS is not defined yet: set ANSWERS = {\"q1\": \"…\", \"q2\": \"…\", \"q3\": \"…\"}.")
    if type(answers) is not dict:
        fail(exercise, f"ANSWERS must be a dict like {{\"q1\": \"a\", …}}, got {type(answers).__name__}.")
    missing = [key for key in _ANSWER_DIGESTS if key not in answers]
    if missing:
        fail(exercise, f"ANSWERS has no answer for {missing}.")
    wrong = []
    for key in _ANSWER_DIGESTS:
        letter = choice_letter(exercise, f"ANSWERS[{key!r}]", answers[key], ("a", "b", "c", "d"))
        if answer_digest(f"{exercise}/{key}", letter) != _ANSWER_DIGESTS[key]:
            wrong.append(key)
    if wrong:
        fail(exercise, "not supported by the table: " + "; ".join(f"{key} ({_HINTS[key]})" for key in wrong) + ".")
    passed(exercise, "the strategies the measured table supports")


# --------------------------------------------------------------------------- ens-diagnose, ens-diagnose-fix

_ENSEMBLE_SIZE = 5


def _ensemble_data():
    from lib.data import load_dataset

    (x, t), (x_test, t_test) = load_dataset("digits", seed=0, dtype=np.float32)
    return (x[:300], t[:300]), (x_test, t_test)


def _member_probabilities_from(rng, data) -> np.ndarray:
    """Test-set class probabilities of one small network whose initial weights and batch order come from ``rng``."""
    from lib.layers import softmax
    from lib.networks import MultiLayerNet
    from lib.training import train

    (x, t), (x_test, t_test) = data
    network = MultiLayerNet(x.shape[1], [32], 10, seed=int(rng.integers(2**31)), dtype=np.float32)
    train(network, SGD(lr=0.5), ((x, t), (x_test[:1], t_test[:1])), epochs=10, batch_size=50,
          seed=int(rng.integers(2**31)))
    return softmax(network.predict(x_test))


def _ensemble_report(generators, data) -> tuple[np.ndarray, float, float]:
    """(members' test accuracies, the averaged ensemble's accuracy, mean pairwise disagreement)."""
    (_, _), (_, t_test) = data
    probabilities = np.stack([_member_probabilities_from(rng, data) for rng in generators])
    labels = probabilities.argmax(axis=2)
    members = (labels == t_test).mean(axis=1)
    ensemble = float((probabilities.mean(axis=0).argmax(axis=1) == t_test).mean())
    pairs = [(i, j) for i in range(len(labels)) for j in range(i + 1, len(labels))]
    disagreement = float(np.mean([np.mean(labels[i] != labels[j]) for i, j in pairs]))
    return members, ensemble, disagreement


def show_broken_ensemble(seed: int = 0) -> None:
    """Train the colleague's ensemble (every member's generator made from the same seed) and print what it measured."""
    data = _ensemble_data()
    generators = [np.random.default_rng(seed) for _ in range(_ENSEMBLE_SIZE)]
    members, ensemble, disagreement = _ensemble_report(generators, data)
    print(f"{_ENSEMBLE_SIZE} members, test accuracy of each: " + ", ".join(f"{a:.3f}" for a in members))
    print(f"ensemble (averaged probabilities): {ensemble:.3f}")
    print(f"mean pairwise disagreement (share of test images two members label differently): {disagreement:.3f}")


ENSEMBLE_CHOICES = {
    "a": "five members are too few for averaging to help",
    "b": "the members are one and the same network",
    "c": "averaging probabilities instead of labels cancels the gain",
    "d": "the members are too small, so they all make the same mistakes",
}
_ENSEMBLE_DIGEST = "7162a83f8e2b3ae7c271c4437965f90300209e119cbd08c52eb8f9436d30982a"   # answer_digest of the key
_ENSEMBLE_FEEDBACK = {
    "a": "averaging helps as soon as members disagree — the chapter's ensembles gain with k = 2 already. Which "
         "printed number says these members never disagree?",
    "c": "averaging probabilities is the right rule (exercise 1), and no averaging rule can make members that "
         "disagree agree everywhere. Look at the disagreement.",
    "d": "small or underfitting members still start from different random weights and see the batches in a different "
         "order, so they disagree on some images. A disagreement of exactly 0 says more than 'similar'.",
}


def check_ensemble_diagnosis(answer) -> None:
    exercise = "ens-diagnose"
    letter = choice_letter(exercise, "DIAGNOSIS", answer, tuple(ENSEMBLE_CHOICES))
    if answer_digest(exercise, letter) != _ENSEMBLE_DIGEST:
        fail(exercise, f"({letter}) does not explain the numbers: {_ENSEMBLE_FEEDBACK[letter]}")
    passed(exercise, "identical members: every generator was made from the same seed")


def _fingerprints(generators) -> list[tuple[int, ...]]:
    return [tuple(int(v) for v in rng.integers(0, 2**62, 4)) for rng in generators]


def _student_generators(exercise: str, member_generators, k: int, seed: int) -> list:
    generators = call_student(exercise, f"member_generators({k}, {seed})", member_generators, k, seed)
    if type(generators) not in (list, tuple):
        fail(exercise, f"member_generators({k}, {seed}) must return a list of np.random.Generator, got "
                       f"{type(generators).__name__}.")
    if len(generators) != k:
        fail(exercise, f"member_generators({k}, {seed}) returned {len(generators)} generators; one per member, {k}.")
    for rng in generators:
        if type(rng) is not np.random.Generator:
            fail(exercise, f"member_generators({k}, {seed}) must return np.random.Generator objects "
                           f"(np.random.default_rng(...)), got a {type(rng).__name__}.")
    return list(generators)


def check_member_generators(member_generators) -> None:
    """One stream per member: distinct within an ensemble, reproducible, never shared across seeds; then the
    check trains its own ensemble from the student's generators, and its members must disagree."""
    exercise = "ens-diagnose-fix"
    k, seeds = _ENSEMBLE_SIZE, (0, 1, 2, 7)
    streams = {seed: _fingerprints(_student_generators(exercise, member_generators, k, seed)) for seed in seeds}
    for seed, prints in streams.items():
        if len(set(prints)) < k:
            fail(exercise, f"two members of the ensemble for seed {seed} draw the same numbers, so they are the same "
                           "network: were their generators all made from the same seed?")
        again = _fingerprints(_student_generators(exercise, member_generators, k, seed))
        if again != prints:
            fail(exercise, f"member_generators({k}, {seed}) gives different streams on a second call: the ensemble "
                           "cannot be reproduced. Was a generator made without a seed, or from np.random's global state?")
    if all(streams[seed] == streams[seeds[0]] for seed in seeds):
        fail(exercise, "every seed gives the same ensemble: the seed is not used.")
    for a in seeds:
        for b in seeds:
            if a < b and set(streams[a]) & set(streams[b]):
                fail(exercise, f"the ensembles for seeds {a} and {b} share a member's stream (e.g. seed + i: seed "
                               f"{a}'s member {b - a} is seed {b}'s member 0), so two 'independent' ensembles are not. "
                               "Make each member's stream from both the seed and the member's index.")
    members, ensemble, disagreement = _ensemble_report(
        _student_generators(exercise, member_generators, k, 0), _ensemble_data())
    if disagreement <= 0:
        fail(exercise, "the check's own ensemble, trained from your generators, has members that never disagree.")
    passed(exercise, "one stream per member: the check's retrained members now disagree")
