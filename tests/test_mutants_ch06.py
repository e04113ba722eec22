"""Mutation suite for chapter 6's exercises: plausible wrong answers fail with the intended message, correct
answers written differently pass, and no message gives the expected answer away."""

from __future__ import annotations

import re

import numpy as np
import pytest

from lib.checks import ch06_ensembles_augmentation_transfer as checks
from lib.checks.core import ExerciseFailure


def expect_failure(check, *implementations, match: str) -> str:
    with pytest.raises(ExerciseFailure) as raised:
        check(*implementations)
    message = str(raised.value)
    assert re.search(match, message, flags=re.IGNORECASE | re.DOTALL), message
    return message


# --------------------------------------------------------------------------- ens-average

def average_then_argmax(p):
    return p.mean(axis=0).argmax(axis=1)


def sum_then_argmax(p):
    return np.argmax(np.sum(p, axis=0), axis=-1)


def accumulate_in_a_loop(p):
    total = np.zeros(p.shape[1:])
    for member in p:
        total += member
    return np.array([int(np.argmax(row)) for row in total])


@pytest.mark.parametrize("predict", [average_then_argmax, sum_then_argmax, accumulate_in_a_loop])
def test_correct_ensemble_predictions_pass(predict):
    checks.check_ensemble_predict(predict)


def majority_vote(p):
    labels = p.argmax(axis=2)
    return np.array([np.bincount(column, minlength=p.shape[2]).argmax() for column in labels.T])


@pytest.mark.parametrize("predict, match", [
    (majority_vote, "majority vote"),
    (lambda p: np.log(p).mean(axis=0).argmax(axis=1), "log-probabilities"),
    (lambda p: p.max(axis=0).argmax(axis=1), "most confident member"),
    (lambda p: p[0].argmax(axis=1), "only the first member"),
    (lambda p: p.mean(axis=0), "probabilities per sample"),
    (lambda p: p.mean(axis=1), "averaged over the samples"),
    (lambda p: p.mean(axis=0).argmax(axis=1).astype(float), "floats"),
    (lambda p: None, "got None"),
])
def test_wrong_ensemble_predictions_fail(predict, match):
    expect_failure(checks.check_ensemble_predict, predict, match=match)


# --------------------------------------------------------------------------- aug-shift

def shift_by_padding(x, t, rng):
    n, pixels = x.shape
    side = int(round(pixels ** 0.5))
    padded = np.pad(x.reshape(n, side, side), ((0, 0), (1, 1), (1, 1)))
    dx, dy = rng.integers(-1, 2, n), rng.integers(-1, 2, n)
    out = np.stack([padded[i, 1 - dy[i]:1 - dy[i] + side, 1 - dx[i]:1 - dx[i] + side] for i in range(n)])
    return out.reshape(n, pixels), t


def shift_by_rolling_and_clearing(x, t, rng):
    n = len(x)
    images = x.reshape(n, 8, 8)
    out = np.empty_like(images)
    moves = rng.integers(-1, 2, (n, 2))
    for i, (dx, dy) in enumerate(moves):
        moved = np.roll(images[i], (dy, dx), axis=(0, 1))
        if dy == 1:
            moved[0, :] = 0
        if dy == -1:
            moved[-1, :] = 0
        if dx == 1:
            moved[:, 0] = 0
        if dx == -1:
            moved[:, -1] = 0
        out[i] = moved
    return out.reshape(x.shape), t.copy()


@pytest.mark.parametrize("shift", [shift_by_padding, shift_by_rolling_and_clearing])
def test_correct_shifts_pass(shift):
    checks.check_random_shift(shift)


def rolls(x, t, rng):
    n = len(x)
    moves = rng.integers(-1, 2, (n, 2))
    images = np.stack([np.roll(image, tuple(move), axis=(0, 1)) for image, move in zip(x.reshape(n, 8, 8), moves)])
    return images.reshape(x.shape), t


def shifts_the_flat_vector(x, t, rng):
    out = np.zeros_like(x)
    for i, (dx, dy) in enumerate(rng.integers(-1, 2, (len(x), 2))):
        step = dx + 8 * dy
        if step > 0:
            out[i, step:] = x[i, :-step]
        elif step < 0:
            out[i, :step] = x[i, -step:]
        else:
            out[i] = x[i]
    return out, t


def shuffles_the_labels(x, t, rng):
    shifted, _ = shift_by_padding(x, t, rng)
    return shifted, rng.permutation(t)


def one_shift_for_all(x, t, rng):
    dx, dy = rng.integers(-1, 2, 2)
    padded = np.pad(x.reshape(-1, 8, 8), ((0, 0), (1, 1), (1, 1)))
    return padded[:, 1 - dy:9 - dy, 1 - dx:9 - dx].reshape(x.shape), t


def returns_square_images(x, t, rng):
    shifted, labels = shift_by_padding(x, t, rng)
    return shifted.reshape(-1, 8, 8), labels


def edits_in_place(x, t, rng):
    shifted, labels = shift_by_padding(x, t, rng)
    x[...] = shifted
    return x, labels


def global_random(x, t, rng):
    return shift_by_padding(x, t, np.random.default_rng())


def horizontal_only(x, t, rng):
    n = len(x)
    padded = np.pad(x.reshape(n, 8, 8), ((0, 0), (0, 0), (1, 1)))
    dx = rng.integers(-1, 2, n)
    return np.stack([padded[i, :, 1 - dx[i]:9 - dx[i]] for i in range(n)]).reshape(x.shape), t


def up_to_two_pixels(x, t, rng):
    n = len(x)
    padded = np.pad(x.reshape(n, 8, 8), ((0, 0), (2, 2), (2, 2)))
    dx, dy = rng.integers(-2, 3, n), rng.integers(-2, 3, n)
    return np.stack([padded[i, 2 - dy[i]:10 - dy[i], 2 - dx[i]:10 - dx[i]] for i in range(n)]).reshape(x.shape), t


def promotes_to_float64(x, t, rng):
    shifted, labels = shift_by_padding(x, t, rng)
    return shifted.astype(np.float64), labels


@pytest.mark.parametrize("shift, match", [
    (rolls, "np.roll wraps around"),
    (shifts_the_flat_vector, "flat vector"),
    (shuffles_the_labels, "labels are reordered"),
    (one_shift_for_all, "every image got the same shift"),
    (returns_square_images, "keep the input's shape"),
    (edits_in_place, "changed the input images x in place"),
    (global_random, "rng you are given"),
    (horizontal_only, "one direction only"),
    (up_to_two_pixels, "at most one pixel"),
    (promotes_to_float64, "keep the dtype"),
    (lambda x, t, rng: x, "must return a tuple"),
])
def test_wrong_shifts_fail(shift, match):
    expect_failure(checks.check_random_shift, shift, match=match)


# --------------------------------------------------------------------------- tl-freeze

def subset_by_comprehension(optimizer, params, grads, trainable):
    keys = set(trainable)
    optimizer.update({k: v for k, v in params.items() if k in keys}, {k: g for k, g in grads.items() if k in keys})


def subset_by_loop(optimizer, params, grads, trainable):
    chosen_params, chosen_grads = {}, {}
    for key in trainable:
        chosen_params[key] = params[key]
        chosen_grads[key] = grads[key]
    optimizer.update(chosen_params, chosen_grads)


@pytest.mark.parametrize("update", [subset_by_comprehension, subset_by_loop])
def test_correct_freezing_passes(update):
    checks.check_update_trainable(update)


def zeroes_frozen_gradients(optimizer, params, grads, trainable):
    optimizer.update(params, {k: g if k in trainable else np.zeros_like(g) for k, g in grads.items()})


def updates_everything(optimizer, params, grads, trainable):
    optimizer.update(params, grads)


def hands_over_copies(optimizer, params, grads, trainable):
    optimizer.update({k: params[k].copy() for k in trainable}, {k: grads[k] for k in trainable})


def inverted(optimizer, params, grads, trainable):
    frozen = [k for k in params if k not in trainable]
    optimizer.update({k: params[k] for k in frozen}, {k: grads[k] for k in frozen})


def replaces_arrays(optimizer, params, grads, trainable):
    chosen = {k: params[k].copy() for k in trainable}
    optimizer.update(chosen, {k: grads[k] for k in trainable})
    params.update(chosen)


def zeroes_frozen_gradients_without_momentum(optimizer, params, grads, trainable):
    """Zeroed gradients fool SGD and Momentum started from rest; AdamW's decoupled decay still moves them."""
    if type(optimizer).__name__ == "AdamW":
        zeroes_frozen_gradients(optimizer, params, grads, trainable)
    else:
        subset_by_loop(optimizer, params, grads, trainable)


@pytest.mark.parametrize("update, match", [
    (zeroes_frozen_gradients_without_momentum, "gradient was zeroed"),
    (zeroes_frozen_gradients, "keeps state for frozen parameter"),
    (updates_everything, "updated like the others"),
    (hands_over_copies, "copies"),
    (inverted, "`trainable` lists the keys to update"),
    (replaces_arrays, "replaced by a new array"),
])
def test_wrong_freezing_fails(update, match):
    expect_failure(checks.check_update_trainable, update, match=match)


# --------------------------------------------------------------------------- tl-choose

@pytest.mark.parametrize("answers", [{"q1": "a", "q2": "c", "q3": "b"}, {"q3": " B", "q2": "C ", "q1": "A"}])
def test_right_answers_pass(answers):
    checks.check_transfer_choice(answers)


@pytest.mark.parametrize("answers, match", [
    (None, "not defined yet"),
    (["a", "c", "b"], "must be a dict"),
    ({"q1": "a", "q2": "c"}, r"no answer for \['q3'\]"),
    ({"q1": "c", "q2": "c", "q3": "b"}, r"q1 \(find the row 'much data, different task'"),
    ({"q1": "a", "q2": "b", "q3": "b"}, r"q2 \(find the row 'much data, similar task'"),
    ({"q1": "a", "q2": "c", "q3": "a"}, r"q3 \("),
    ({"q1": "from scratch", "q2": "c", "q3": "b"}, "one of the letters"),
    ({"q1": 1, "q2": "c", "q3": "b"}, "one of the letters"),
])
def test_wrong_answers_fail(answers, match):
    message = expect_failure(checks.check_transfer_choice, answers, match=match)
    # the message names what is wrong and where to look, never the right letter
    assert not re.search(r"answer is|should be|expected", message, flags=re.IGNORECASE)


def test_answer_key_is_not_stored_in_plain_text():
    source = open(checks.__file__, encoding="utf-8").read()
    assert '"q1": "a"' not in source and "'q1': 'a'" not in source


# --------------------------------------------------------------------------- ens-diagnose

@pytest.mark.parametrize("answer", ["b", " B "])
def test_the_right_diagnosis_passes(answer):
    checks.check_ensemble_diagnosis(answer)


@pytest.mark.parametrize("answer, match", [
    ("a", "as soon as members disagree"),
    ("c", "averaging probabilities is the right rule"),
    ("d", "still start from different random weights"),
    (None, "not defined yet"),
    ("b)", "one of the letters"),
    (2, "one of the letters.*got int"),
])
def test_wrong_diagnoses_fail_with_their_own_explanation(answer, match):
    message = expect_failure(checks.check_ensemble_diagnosis, answer, match=match)
    assert "(b)" not in message


def test_the_diagnosis_key_is_not_stored_in_plain_text():
    source = open(checks.__file__, encoding="utf-8").read()
    assert 'answer_digest("ens-diagnose", "b")' not in source and '_ENSEMBLE_ANSWER = "b"' not in source


def test_the_broken_ensemble_shows_identical_members(capsys):
    checks.show_broken_ensemble()
    printed = capsys.readouterr().out
    assert "disagreement" in printed and printed.rstrip().endswith("0.000")


# --------------------------------------------------------------------------- ens-diagnose-fix

def generators_from_seed_and_index(k, seed):
    return [np.random.default_rng([seed, member]) for member in range(k)]


def generators_spawned(k, seed):
    return [np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(k)]


def one_generator_shared_in_turn(k, seed):
    return [np.random.default_rng(seed)] * k      # one stream, used by the members one after another


def generators_from_disjoint_blocks(k, seed):
    return tuple(np.random.default_rng(seed * 10_000 + member) for member in range(k))


@pytest.mark.parametrize("member_generators", [generators_from_seed_and_index, generators_spawned,
                                               one_generator_shared_in_turn, generators_from_disjoint_blocks])
def test_independent_member_streams_pass(member_generators):
    checks.check_member_generators(member_generators)


@pytest.mark.parametrize("member_generators, match", [
    (lambda k, seed: [np.random.default_rng(seed) for _ in range(k)], "same network"),          # the colleague's bug
    (lambda k, seed: [np.random.default_rng(seed + member) for member in range(k)], "share a member's stream"),
    (lambda k, seed: [np.random.default_rng() for _ in range(k)], "cannot be reproduced"),
    (lambda k, seed: [np.random.default_rng(member) for member in range(k)], "seed is not used"),
    (lambda k, seed: [np.random.RandomState(seed + 100 * member) for member in range(k)], "np.random.Generator"),
    (lambda k, seed: [np.random.default_rng([seed, member]) for member in range(k - 1)], "one per member"),
    (lambda k, seed: np.random.default_rng([seed, 0]), "must return a list"),
])
def test_wrong_member_streams_fail(member_generators, match):
    expect_failure(checks.check_member_generators, member_generators, match=match)
