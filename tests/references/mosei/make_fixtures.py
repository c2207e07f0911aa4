#!/usr/bin/python3
"""Tiny CMU-MOSEI-like fixtures for the .csd reader, writer and MOSEI loader tests, and the values the tests expect.

Run once with Debian's python (h5py 3.7, numpy), from anywhere:
    /usr/bin/python3 tests/references/mosei/make_fixtures.py          # writes the fixtures next to this script
    /usr/bin/python3 tests/references/mosei/make_fixtures.py check F  # prints F as the CMU-MultimodalSDK reads it
    /usr/bin/python3 tests/references/mosei/make_fixtures.py gzip     # (re)writes only gzip/ (see gzip_pair)
    /usr/bin/python3 tests/references/mosei/make_fixtures.py ours F   # checks that h5py reads F, written by our
                                                                      # CsdWriter, and that it is deflate level 9

The files follow the SDK's write_CSD: <root>/data/<video>/{features, intervals}, <root>/metadata/<key> a (1,)
variable-length string holding json.dumps(value); gzip level 9 where the SDK compresses. Expected values are
computed here with numpy, independently of the C# code under test:
    a feature row [s, e] belongs to a segment [S, E] when s < E and e > S (touching intervals do not overlap).
"""
import json
import os
import shutil
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
EMOTIONS = ["happy", "sad", "anger", "surprise", "disgust", "fear"]

# Video ids shaped like YouTube ids; ordinal order: '-' < 'Z' < '_' < 'a' < 'z'.
A, B, C, D, E = "-3g5yACwYnA", "_dI--eQ6qVU", "ZUXBRvtny7o", "aBc9-x_Y0Z1", "zk2jTlAtvSU"
X = "Xmissing001"  # listed in a fold, absent from the data
EXTRA = "extraVideo01"  # in COVAREP only
FOLDS = {"train": [A, B], "valid": [C, X], "test": [E]}  # D is in no fold

DURATION = {A: 5.5, B: 3.5, C: 4.5, D: 3.0, E: 4.0, EXTRA: 2.0}

# Segments and labels (sentiment, then 6 emotions as thirds): emotion values are annotator means in [0, 3].
# Fear is 0 in every fold video (D, in no fold, has fear > 0 and must not be counted).
LABELS = {
    A: [((0.5, 2.0), [3, 3, 0, 0, 1, 0, 0]), ((2.0, 3.5), [-2, 0, 4, 2, 0, 1, 0]), ((3.75, 5.0), [6, 7, 0, 0, 3, 0, 0])],
    B: [((0.25, 1.5), [0, 0, 0, 0, 0, 0, 0]), ((1.5, 3.0), [-4, 0, 2, 5, 0, 3, 0])],
    C: [((0.0, 1.25), [1, 2, 0, 0, 0, 0, 0]), ((1.5, 2.5), [3, 4, 1, 0, 0, 0, 0]), ((2.75, 4.0), [-6, 0, 6, 9, 0, 1, 0])],
    D: [((0.5, 1.5), [1, 0, 0, 0, 0, 0, 3]), ((1.5, 2.5), [3, 3, 0, 0, 0, 0, 6])],
    E: [((1.0, 2.0), [5, 3, 0, 0, 2, 0, 0]), ((2.0, 3.25), [0, 0, 0, 1, 1, 0, 0])],
}

# Words (start, end, token); "sp" is a pause, a zero vector as in the SDK's glove_vectors.
WORDS = {
    A: [(0.5, 0.9, "i"), (0.9, 1.4, "really"), (1.4, 1.5, "sp"), (1.5, 2.25, "liked"),  # crosses 2.0: both segments
        (2.25, 2.5, "the"), (2.5, 2.5, "uh"),  # zero length, strictly inside segment 1
        (2.75, 3.5, "movie"), (3.5, 3.75, "sp"),  # touches segment 1's end and segment 2's start: in neither
        (3.75, 4.5, "very"), (4.5, 5.0, "much")],
    B: [(0.25, 0.75, "not"), (0.75, 1.5, "sure"), (1.5, 2.0, "about"), (2.0, 2.2, "sp"), (2.2, 3.0, "it")],
    C: [(0.0, 0.5, "so"), (0.5, 1.25, "well"), (1.25, 1.5, "hmm"),  # touches both segments 0 and 1: in neither
        (2.5, 2.75, "then"),  # touches segment 1's end: segment 1 [1.5, 2.5] has no word at all
        (2.75, 3.5, "angry"), (3.5, 4.0, "now")],
    D: [(0.5, 1.0, "scary"), (1.0, 2.5, "stuff")],
    E: [(0.5, 1.0, "before"), (1.0, 1.6, "happy"), (1.6, 2.0, "day"), (2.0, 2.0, "oh"),  # zero length on the boundary: in neither
        (2.0, 3.25, "wow"), (3.25, 3.5, "after")],
}

# COVAREP -inf positions (video, row, column); D's is in no fold, EXTRA's in no labels.
NEG_INF = [(A, 3, 5), (A, 3, 6), (A, 20, 5), (C, 10, 60), (D, 2, 5), (EXTRA, 1, 0)]
# FACET frames dropped (face not found): video -> frame numbers (0.25 s frames).
FACET_DROPPED = {A: [8, 9], C: [0, 1, 17]}
# The NaN copy of COVAREP: one NaN in A's row 13 ([1.625, 1.75], inside segment 0 only).
NAN_AT = (A, 13, 7)


def sdk_metadata(root, description, dimension_names):
    """The SDK's metadata keys (configurations/metadataconfigs.py), values as the SDK stores them: json.dumps."""
    return {
        "root name": root,
        "computational sequence description": description,
        "dimension names": dimension_names,
        "computational sequence version": "1.0",
        "alignment compatible": True,
        "dataset name": "CMU-MOSEI test fixture",
        "dataset version": "1.0",
        "creator": "tests/references/mosei/make_fixtures.py",
        "contact": "none",
        "featureset bib citation": "none",
        "dataset bib citation": "none",
    }


def write_csd(path, root, data, metadata, compress):
    """write_CSD of the SDK: groups, features and intervals datasets, (1,) vlen-string metadata."""
    opts = dict(compression="gzip", compression_opts=9) if compress else {}
    with h5py.File(path, "w") as f:
        r = f.create_group(root)
        d = r.create_group("data")
        for vid in data:
            g = d.create_group(vid)
            if "features" in data[vid]:
                g.create_dataset("features", data=data[vid]["features"], **opts)
            if "intervals" in data[vid]:
                g.create_dataset("intervals", data=data[vid]["intervals"], **opts)
        m = r.create_group("metadata")
        for key, value in metadata.items():
            ds = m.create_dataset(key, (1,), dtype=h5py.special_dtype(vlen=str))
            ds[0] = json.dumps(value)


def q32(x):
    """float32 values with 3 decimals (short, exact JSON text for float32)."""
    return np.round(x, 3).astype(np.float32)


def build():
    rng = np.random.default_rng(20240601)
    labels = {}
    for vid, rows in LABELS.items():
        iv = np.array([s for s, _ in rows], dtype=np.float64)
        feats = np.array([v for _, v in rows], dtype=np.float64) / 3.0
        labels[vid] = {"features": feats, "intervals": iv}

    covarep = {}
    for vid in [A, B, C, D, E, EXTRA]:
        n = int(DURATION[vid] * 8)
        k = np.arange(n, dtype=np.float64)
        covarep[vid] = {"features": q32(rng.normal(size=(n, 74))), "intervals": np.stack([k / 8, (k + 1) / 8], axis=1)}
    for vid, r, c in NEG_INF:
        covarep[vid]["features"][r, c] = -np.inf

    facet = {}
    for vid in [A, B, C, D, E]:
        k = np.array([i for i in range(int(DURATION[vid] * 4)) if i not in FACET_DROPPED.get(vid, [])], dtype=np.float64)
        facet[vid] = {"features": rng.normal(size=(len(k), 35)), "intervals": np.stack([k / 4, (k + 1) / 4], axis=1)}

    glove = {}
    for vid, words in WORDS.items():
        vecs = q32(rng.normal(size=(len(words), 300)))
        for i, (_, _, w) in enumerate(words):
            if w == "sp":
                vecs[i] = 0
        glove[vid] = {"features": vecs, "intervals": np.array([(s, e) for s, e, _ in words], dtype=np.float64)}
    return labels, covarep, facet, glove


# file name (roots are what the loader matches; FACET's file name is deliberately non-standard) -> (root, data, compress)
def files(labels, covarep, facet, glove):
    return {
        "CMU_MOSEI_Labels.csd": ("All Labels", labels, True),
        "CMU_MOSEI_COVAREP.csd": ("COVAREP", covarep, True),
        "facet_features.csd": ("FACET 4.2", facet, False),
        "CMU_MOSEI_TimestampedWordVectors.csd": ("glove_vectors", glove, True),
    }


DESCRIPTIONS = {
    "All Labels": ("sentiment and emotion labels", ["sentiment"] + EMOTIONS),
    "COVAREP": ("COVAREP acoustic features", [f"covarep_{i}" for i in range(74)]),
    "FACET 4.2": ("FACET 4.2 facial action units", [f"facet_{i}" for i in range(35)]),
    "glove_vectors": ("GloVe 840B word vectors", [f"glove_{i}" for i in range(300)]),
}


def number(v, float32):
    if not np.isfinite(v):
        return None
    return float(str(np.float32(v))) if float32 else float(v)


def expected_file(root, data, metadata):
    """The reader's view, per h5py/numpy: ids, dimension, metadata strings, per-video shapes and sums, one full video."""
    ids = sorted(data)
    out = {"root": root, "video_ids": ids, "dimension": int(data[ids[0]]["features"].shape[1]),
           "metadata": {k: json.dumps(v) for k, v in metadata.items()}, "videos": {}}
    for vid in ids:
        f = data[vid]["features"]
        finite = np.where(np.isfinite(f), f, 0).astype(np.float32).astype(np.float64)  # the reader gives float32
        out["videos"][vid] = {
            "rows": int(f.shape[0]),
            "sum": float(finite.sum()),
            "neg_inf": [[int(r), int(c)] for r, c in zip(*np.where(np.isneginf(f)))],
            "first_interval": [float(x) for x in data[vid]["intervals"][0]],
            "last_interval": [float(x) for x in data[vid]["intervals"][-1]],
        }
    small = min((v for v in ids if np.isfinite(data[v]["features"]).all()), key=lambda v: data[v]["features"].size)
    f32 = data[small]["features"].dtype == np.float32
    out["full"] = {"video": small, "float32": bool(f32),
                   "features": [[number(x, f32) for x in row] for row in data[small]["features"]],
                   "intervals": [[float(x) for x in row] for row in data[small]["intervals"]]}
    return out


def overlapping(intervals, s, e):
    return np.nonzero((intervals[:, 0] < e) & (intervals[:, 1] > s))[0]


def expected_mosei(labels, covarep, facet, glove):
    """Every segment of the fold videos with its rows per modality and label values; the report's contents."""
    fold_of = {v: f for f, vs in FOLDS.items() for v in vs}
    segments, empty = [], []
    for fold in ["train", "valid", "test"]:
        for vid in FOLDS[fold]:
            if vid not in labels:
                continue
            lab = labels[vid]
            for i, (s, e) in enumerate(lab["intervals"]):
                seg = {"video": vid, "index": i, "start": float(s), "end": float(e), "fold": fold,
                       "sentiment": float(lab["features"][i, 0]),
                       "intensities": [float(x) for x in lab["features"][i, 1:]],
                       "present": [bool(x > 0) for x in lab["features"][i, 1:]], "rows": {}, "sums": {}}
                for name, data in [("audio", covarep), ("video", facet), ("text", glove)]:
                    rows = overlapping(data[vid]["intervals"], s, e)
                    f = data[vid]["features"][rows]
                    seg["rows"][name] = [int(r) for r in rows]
                    seg["sums"][name] = float(np.where(np.isneginf(f), 0, f).astype(np.float32).astype(np.float64).sum())
                    if len(rows) == 0:
                        empty.append({"video": vid, "index": i, "modality": name})
                segments.append(seg)
    loaded = [v for v in fold_of if v in labels]
    neg_inf = int(sum(np.isneginf(covarep[v]["features"]).sum() for v in loaded))
    return {
        "segments": segments,
        "empty": empty,
        "missing_from_data": [v for f in ["train", "valid", "test"] for v in FOLDS[f] if v not in labels],
        "not_in_any_fold": sorted(v for v in labels if v not in fold_of),
        "neg_inf_replaced": {"COVAREP": neg_inf},
    }


def inspect_json(mosei):
    segs = mosei["segments"]
    return {
        "n_segments": len(segs),
        "by_fold": {f: sum(1 for s in segs if s["fold"] == f) for f in ["train", "valid", "test"]},
        "positives": [sum(1 for s in segs if s["intensities"][k] > 0) for k in range(len(EMOTIONS))],
    }


def dump(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, allow_nan=False)
        f.write("\n")


def main():
    labels, covarep, facet, glove = build()
    corpus = os.path.join(HERE, "corpus")
    for sub in ["corpus", "nan", "broken"]:
        shutil.rmtree(os.path.join(HERE, sub), ignore_errors=True)
        os.makedirs(os.path.join(HERE, sub))

    expected_files = {}
    for name, (root, data, compress) in files(labels, covarep, facet, glove).items():
        metadata = sdk_metadata(root, *DESCRIPTIONS[root])
        write_csd(os.path.join(corpus, name), root, data, metadata, compress)
        expected_files[name] = expected_file(root, data, metadata)
    dump(os.path.join(HERE, "folds.json"), FOLDS)

    # nan/: the labels and a COVAREP with one NaN.
    shutil.copy(os.path.join(corpus, "CMU_MOSEI_Labels.csd"), os.path.join(HERE, "nan", "CMU_MOSEI_Labels.csd"))
    nan_covarep = {v: dict(d) for v, d in covarep.items()}
    vid, r, c = NAN_AT
    nan_covarep[vid]["features"] = covarep[vid]["features"].copy()
    nan_covarep[vid]["features"][r, c] = np.nan
    write_csd(os.path.join(HERE, "nan", "CMU_MOSEI_COVAREP.csd"), "COVAREP", nan_covarep,
              sdk_metadata("COVAREP", *DESCRIPTIONS["COVAREP"]), True)
    nan_skipped = [i for i, (s, e) in enumerate(labels[vid]["intervals"])
                   if len(np.intersect1d(overlapping(covarep[vid]["intervals"], s, e), [r])) > 0]

    # broken/: a truncated copy, a text file, a file with a video lacking intervals.
    whole = open(os.path.join(corpus, "CMU_MOSEI_COVAREP.csd"), "rb").read()
    open(os.path.join(HERE, "broken", "truncated.csd"), "wb").write(whole[: len(whole) // 2])
    open(os.path.join(HERE, "broken", "not_hdf5.csd"), "w").write("this is not an HDF5 file\n")
    no_intervals = {A: covarep[A], B: {"features": covarep[B]["features"]}}
    write_csd(os.path.join(HERE, "broken", "missing_intervals.csd"), "COVAREP", no_intervals,
              sdk_metadata("COVAREP", *DESCRIPTIONS["COVAREP"]), False)

    mosei = expected_mosei(labels, covarep, facet, glove)
    dump(os.path.join(HERE, "expected.json"), {
        "files": expected_files,
        "mosei": mosei,
        "nan": {"video": vid, "row": r, "column": c, "skipped": nan_skipped},
        "missing_intervals": {"video": B},
    })
    dump(os.path.join(HERE, "inspect.json"), inspect_json(mosei))
    gzip_pair()
    for dirpath, _, names in os.walk(HERE):
        for n in sorted(names):
            p = os.path.join(dirpath, n)
            print(f"{os.path.getsize(p):8d}  {os.path.relpath(p, HERE)}")


def gzip_pair():
    """gzip/: one COVAREP-like sequence written twice by h5py, plain.csd uncompressed and gzip.csd as the SDK's
    deploy writes it (compression="gzip", compression_opts=9, h5py's own chunk shape); the reader must give the same
    values from both. Video "ramp" is compressible (a smooth ramp), "noise" is not; "empty" has no rows."""
    rng = np.random.default_rng(7)
    k = np.arange(200, dtype=np.float64)
    data = {
        "ramp": {"features": (np.outer(k, np.ones(74)) / 8).astype(np.float32),
                 "intervals": np.stack([k / 8, (k + 1) / 8], axis=1)},
        "noise": {"features": q32(rng.normal(size=(40, 74))), "intervals": np.stack([k[:40] / 8, (k[:40] + 1) / 8], axis=1)},
        "empty": {"features": np.zeros((0, 74), dtype=np.float32), "intervals": np.zeros((0, 2))},
    }
    data["noise"]["features"][3, 5] = -np.inf
    folder = os.path.join(HERE, "gzip")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    metadata = sdk_metadata("COVAREP", *DESCRIPTIONS["COVAREP"])
    write_csd(os.path.join(folder, "plain.csd"), "COVAREP", data, metadata, False)
    write_csd(os.path.join(folder, "gzip.csd"), "COVAREP", data, metadata, True)
    with h5py.File(os.path.join(folder, "gzip.csd"), "r") as f:
        ds = f["COVAREP"]["data"]["ramp"]["features"]
        assert ds.compression == "gzip" and ds.compression_opts == 9, (ds.compression, ds.compression_opts)
    for n in sorted(os.listdir(folder)):
        print(f"{os.path.getsize(os.path.join(folder, n)):8d}  gzip/{n}")


def ours(path):
    """h5py reads a .csd our CsdWriter wrote (gzip: true): every features/intervals dataset with rows is chunked and
    deflate level 9, and the values are finite where expected. Prints one line per dataset; exits 1 on a mismatch.
    How it was run (once, by hand; the tests need no Python): a few lines of F# Interactive referencing the built
    Model.CSharp.dll called CsdWriter.Write("/tmp/ours.csd", "LFBE", videos, {"root name": "\"LFBE\""}) (gzip is the
    default) with videos "ramp" (4000 x 4, row i = i / 8), "neg" (3 x 4 with one -inf) and "empty" (0 x 4), then
        /usr/bin/python3 tests/references/mosei/make_fixtures.py ours /tmp/ours.csd
    With h5py 3.7 (Debian 12): every non-empty dataset read back as gzip level 9 with one chunk per dataset, the
    empty video contiguous; the file was 17,169 bytes against 133,549 written with gzip=false (7.8x)."""
    check(path)
    with h5py.File(path, "r") as f:
        root = list(f.keys())[0]
        for vid, g in f[root]["data"].items():
            for name in ["features", "intervals"]:
                ds = g[name]
                values = ds[()]
                print(f"  {vid}/{name}: {ds.shape} {ds.dtype} chunks {ds.chunks} compression {ds.compression} "
                      f"level {ds.compression_opts}; read {values.size} values")
                if ds.shape[0] > 0 and (ds.compression != "gzip" or ds.compression_opts != 9):
                    sys.exit(f"{path}: {vid}/{name} is not gzip level 9")


def check(path):
    """Reads a .csd the way the SDK's read_CSD and metadata_to_dict do, and prints what it finds."""
    h5 = h5py.File(path, "r")
    root = list(h5.keys())[0]
    data = dict(h5[root]["data"])
    metadata = {k: json.loads(h5[root]["metadata"][k][0]) for k in h5[root]["metadata"].keys()}
    print(f"root {root!r}: {len(data)} videos; metadata {metadata}")
    for vid in sorted(data):
        f, i = data[vid]["features"], data[vid]["intervals"]
        assert f.shape[0] == i.shape[0] and i.shape[1] == 2, vid
        print(f"  {vid}: features {f.shape} {f.dtype}, intervals {i.shape} {i.dtype}, "
              f"first row {np.asarray(f[0])[:3] if f.shape[0] else []}, intervals[0] {np.asarray(i[0]) if i.shape[0] else []}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "check":
        check(sys.argv[2])
    elif len(sys.argv) == 2 and sys.argv[1] == "gzip":
        gzip_pair()
    elif len(sys.argv) == 3 and sys.argv[1] == "ours":
        ours(sys.argv[2])
    else:
        main()
