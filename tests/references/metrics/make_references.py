#!/usr/bin/python3
"""Reference values for the emotion metrics tests (tests/Model.Tests/MetricsTests.fs).

Run once with Debian's Python (python3-sklearn 1.2.1, python3-numpy), from anywhere:

    /usr/bin/python3 tests/references/metrics/make_references.py

Writes into this folder:
  cases.json   binary cases (labels, scores): scikit-learn's balanced_accuracy_score and
               f1_score(average="weighted") at given thresholds, and the thresholds a brute-force search over the
               candidate set picks on them (for WA and for F1); plus one six-emotion dev/test case with the test
               metrics at the dev-tuned thresholds
  dev.csv, test.csv, expected.json
               the six-emotion case as the CSV files `scripts/evaluate.fsx` reads (labels as intensities in [0, 3],
               present when > 0), and the JSON it should print
The tests never run Python: they read these files.

The protocol mirrored here, written independently of the F# code (src/Experiments.FSharp/Evaluation/Metrics.fs):
  * an item is predicted positive when its score is strictly above the threshold;
  * candidate thresholds: the distinct scores v_1 < ... < v_k give the midpoints 0.5 v_i + 0.5 v_(i+1) (v_i when
    that rounds up to v_(i+1)), plus v_1 - max(1, |v_1|) (all positive) and v_k + max(1, |v_k|) (all negative);
  * the tuned threshold is the smallest candidate whose metric is the largest, metrics compared exactly
    (fractions of the confusion counts), so rounding never decides a tie.
"""
import json
import os
import warnings
from fractions import Fraction

import numpy as np
import sklearn
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score

HERE = os.path.dirname(os.path.abspath(__file__))
EMOTIONS = ["happy", "sad", "anger", "surprise", "disgust", "fear"]


def sk_metrics(labels, predictions):
    """scikit-learn's WA (balanced accuracy) and weighted F1; its warnings (ill-defined classes) are expected."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wa = balanced_accuracy_score(labels, predictions)
        f1 = f1_score(labels, predictions, average="weighted")
    return float(wa), float(f1)


def exact_metrics(labels, predictions):
    """WA and weighted F1 as fractions of the confusion counts (sklearn's definitions, zero division -> 0)."""
    cm = confusion_matrix(labels, predictions, labels=[False, True])
    tn, fp, fn, tp = (int(x) for x in cm.ravel())
    p, n = tp + fn, tn + fp
    recalls = [Fraction(tp, p)] if p else []
    recalls += [Fraction(tn, n)] if n else []
    wa = sum(recalls) / len(recalls)
    f1_pos = Fraction(2 * tp, 2 * tp + fp + fn) if p else Fraction(0)
    f1_neg = Fraction(2 * tn, 2 * tn + fp + fn) if n else Fraction(0)
    f1 = (p * f1_pos + n * f1_neg) / (p + n)
    return wa, f1


def candidates(scores):
    values = np.unique(scores)  # sorted, distinct
    out = [float(values[0] - max(1.0, abs(values[0])))]
    for a, b in zip(values[:-1], values[1:]):
        mid = 0.5 * a + 0.5 * b
        out.append(float(a if mid >= b else mid))
    out.append(float(values[-1] + max(1.0, abs(values[-1]))))
    return out


def brute_force(labels, scores):
    """The smallest candidate maximising each metric, and sklearn's value there."""
    best = {}
    for t in candidates(scores):
        pred = scores > t
        exact = exact_metrics(labels, pred)
        approx = sk_metrics(labels, pred)
        for name, e, a in zip(("wa", "f1"), exact, approx):
            assert abs(float(e) - a) < 1e-12, (name, t, float(e), a)
            if name not in best or e > best[name][0]:
                best[name] = (e, t, a)
    return {name: {"threshold": t, "value": a} for name, (e, t, a) in best.items()}


def binary_case(name, labels, scores, extra_thresholds=()):
    labels = np.asarray(labels, dtype=bool)
    scores = np.asarray(scores, dtype=float)
    values = np.unique(scores)
    thresholds = sorted(
        set(
            [float(values[0]) - 1.0, float(values[-1]) + 1.0, float(values[0]), float(values[-1])]
            + [float(v) for v in values[:: max(1, len(values) // 4)]]  # exactly on a score: strictly above counts
            + [float(np.median(scores))]
            + list(extra_thresholds)
        )
    )
    at = []
    for t in thresholds:
        wa, f1 = sk_metrics(labels, scores > t)
        at.append({"threshold": t, "wa": wa, "f1": f1})
    return {
        "name": name,
        "labels": [int(x) for x in labels],
        "scores": [float(x) for x in scores],
        "at_threshold": at,
        "tuned": brute_force(labels, scores),
    }


def noisy_scores(rng, labels, separation, decimals=None, logits=False):
    s = rng.normal(0.0, 1.0, len(labels)) + separation * labels
    if not logits:
        s = 1.0 / (1.0 + np.exp(-s))
    return np.round(s, decimals) if decimals is not None else s


def binary_cases(rng):
    cases = []
    y = np.array([0, 1, 0, 1, 1, 0, 0, 1, 0, 0, 1, 0])
    cases.append(binary_case("tiny with ties", y, [0.25, 0.75, 0.5, 0.5, 1.0, 0.0, 0.25, 0.75, 0.75, 0.5, 0.25, 0.0]))
    y = rng.random(50) < 0.5
    cases.append(binary_case("balanced 50, continuous", y, noisy_scores(rng, y, 1.0), [0.5]))
    y = rng.random(200) < 0.1
    cases.append(binary_case("imbalanced 200 (10%), logits rounded to 0.1", y, noisy_scores(rng, y, 1.5, 1, True), [0.0]))
    y = np.zeros(400, dtype=bool)
    y[rng.choice(400, 4, replace=False)] = True
    cases.append(binary_case("rare 4 of 400, probabilities", y, noisy_scores(rng, y, 2.0, 4), [0.5]))
    y = rng.random(1000) < 0.3
    cases.append(binary_case("1000 with heavy ties (10 levels)", y, np.floor(noisy_scores(rng, y, 0.8) * 10), [4.5]))
    y = rng.random(30) < 0.5
    cases.append(binary_case("constant scores", y, np.full(30, 0.3)))
    y = np.zeros(40, dtype=bool)
    cases.append(binary_case("no positives", y, noisy_scores(rng, y, 0.0, 3)))
    y = np.ones(25, dtype=bool)
    cases.append(binary_case("no negatives", y, noisy_scores(rng, y, 0.0, 3)))
    y = np.array([0, 0, 0, 1, 1, 1])
    cases.append(binary_case("perfect separation", y, [-3.0, -1.0, 0.0, 2.0, 2.5, 7.0]))
    y = rng.random(80) < 0.4
    cases.append(binary_case("large logits", y, noisy_scores(rng, y, 1.0, None, True) * 1e6))
    return cases


def intensities(rng, present):
    """MOSEI-like intensities: 0 when absent, else a multiple of 1/3 in (0, 3]."""
    return np.where(present, rng.integers(1, 10, len(present)) / 3.0, 0.0)


def six_emotion_split(rng, n, prevalence, separation):
    present = np.stack([rng.random(n) < p for p in prevalence], axis=1)
    if n < 60:  # the test split: fear gets a single positive, so its F1 and WA see a very rare class
        present[:, 5] = False
        present[rng.integers(n), 5] = True
    labels = np.stack([intensities(rng, present[:, e]) for e in range(6)], axis=1)
    scores = np.stack([noisy_scores(rng, present[:, e], separation[e], 3) for e in range(6)], axis=1)
    return labels, scores


def write_csv(path, ids, labels, scores):
    header = ["id"] + EMOTIONS + [e + "_score" for e in EMOTIONS]
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for i, row_l, row_s in zip(ids, labels, scores):
            f.write(",".join([i] + ["%.6f" % x for x in row_l] + [repr(float(x)) for x in row_s]) + "\n")


def six_emotion_case(rng):
    prevalence = [0.5, 0.28, 0.22, 0.1, 0.17, 0.08]
    separation = [1.2, 0.8, 1.0, 0.6, 1.5, 0.7]
    dev_l, dev_s = six_emotion_split(rng, 90, prevalence, separation)
    test_l, test_s = six_emotion_split(rng, 50, prevalence, separation)
    write_csv(os.path.join(HERE, "dev.csv"), ["dev%03d" % i for i in range(len(dev_l))], dev_l, dev_s)
    write_csv(os.path.join(HERE, "test.csv"), ["vid%02d[%d]" % (i // 3, i % 3) for i in range(len(test_l))], test_l, test_s)
    # What the CSV reader gives: labels present when the written intensity is > 0, scores as written.
    dev_y, test_y = np.round(dev_l, 6) > 0, np.round(test_l, 6) > 0
    per_emotion, thresholds = {}, {}
    for e, name in enumerate(EMOTIONS):
        tuned = brute_force(dev_y[:, e], dev_s[:, e])
        wa, _ = sk_metrics(test_y[:, e], test_s[:, e] > tuned["wa"]["threshold"])
        _, f1 = sk_metrics(test_y[:, e], test_s[:, e] > tuned["f1"]["threshold"])
        per_emotion[name] = {"wa": wa, "f1": f1}
        thresholds[name] = {"wa": tuned["wa"]["threshold"], "f1": tuned["f1"]["threshold"]}
    average = {
        "wa": float(np.mean([m["wa"] for m in per_emotion.values()])),
        "f1": float(np.mean([m["f1"] for m in per_emotion.values()])),
    }
    expected = {"per_emotion": per_emotion, "average": average}
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2)
        f.write("\n")
    return {
        "dev": {"labels": dev_y.astype(int).tolist(), "scores": dev_s.tolist()},
        "test": {"labels": test_y.astype(int).tolist(), "scores": test_s.tolist()},
        "thresholds": thresholds,
        "expected": expected,
    }


def main():
    rng = np.random.default_rng(20240607)
    out = {
        "generator": "tests/references/metrics/make_references.py",
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "binary": binary_cases(rng),
        "six_emotions": six_emotion_case(rng),
    }
    with open(os.path.join(HERE, "cases.json"), "w") as f:
        json.dump(out, f)
        f.write("\n")
    print("wrote cases.json, dev.csv, test.csv, expected.json in", HERE)


if __name__ == "__main__":
    main()
