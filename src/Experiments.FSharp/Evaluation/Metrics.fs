/// The emotion-recognition metrics of the paper (§5): per emotion the weighted accuracy (WA) and the support-weighted
/// F1-score, each at its own threshold tuned on the development split only, then applied to the test split; the
/// averages over the six emotions; the model-selection score; bootstrap confidence intervals over test items.
///
/// Rules (the same in the independent reference, tests/references/metrics/make_references.py):
/// - an item is predicted to show an emotion when its score is strictly above the threshold (score > t);
/// - candidate thresholds for a column of dev scores whose distinct values, ascending, are v_1 ... v_k: the midpoints
///   0.5 v_i + 0.5 v_(i+1) (v_i when rounding puts the midpoint on v_(i+1), so it always separates them), plus
///   v_1 - max(1, |v_1|) (everything positive) and v_k + max(1, |v_k|) (everything negative): k + 1 candidates,
///   one per distinct way to split the sorted dev scores;
/// - the tuned threshold is the smallest candidate with the largest dev metric; metrics are compared exactly (as
///   fractions of the confusion counts), so floating-point rounding never decides a tie.
module Research.Experiments.Metrics

open System
open System.Numerics

/// The six emotions in CMU-MOSEI's label order (the column order of every split).
let emotions = [| "happy"; "sad"; "anger"; "surprise"; "disgust"; "fear" |]

/// One split of the emotion data: items × 6 (emotions in the order of `emotions`). Name appears in error messages.
type Split =
    {
        /// "dev", "test" or a file name.
        Name: string
        /// Whether item i shows emotion e: Labels[i][e].
        Labels: bool[][]
        /// The model's score of item i for emotion e (probability or logit: any finite number; higher = more likely).
        Scores: float[][]
    }

/// Confusion counts of one emotion at one threshold.
[<Struct>]
type Counts =
    {
        TP: int
        FP: int
        TN: int
        FN: int
    }

    /// Items that show the emotion (TP + FN).
    member c.Positives = c.TP + c.FN
    /// Items that do not (TN + FP).
    member c.Negatives = c.TN + c.FP

/// The confusion counts of predictions against labels.
let counts (labels: bool[]) (predictions: bool[]) : Counts =
    if labels.Length <> predictions.Length then
        raise (ArgumentException $"counts: {labels.Length} labels but {predictions.Length} predictions")

    let mutable tp, fp, tn, fn = 0, 0, 0, 0

    for i in 0 .. labels.Length - 1 do
        match labels[i], predictions[i] with
        | true, true -> tp <- tp + 1
        | false, true -> fp <- fp + 1
        | false, false -> tn <- tn + 1
        | true, false -> fn <- fn + 1

    { TP = tp; FP = fp; TN = tn; FN = fn }

let private checkNonEmpty (what: string) (c: Counts) =
    if c.Positives + c.Negatives = 0 then
        raise (ArgumentException $"{what}: no items")

/// Weighted accuracy from counts: WA = (TP·N/P + TN) / (2N), P = positives, N = negatives (the MOSEI emotion
/// literature's definition). Since (TP·N/P + TN) / (2N) = (TP/P + TN/N) / 2, it is the balanced accuracy
/// (TPR + TNR) / 2, scikit-learn's balanced_accuracy_score. When one class is absent (P = 0 or N = 0) the formula is
/// undefined; WA is then the recall of the class present (TNR, or TPR), as balanced_accuracy_score does (it averages
/// the recalls of the classes present in the labels). No items is an error.
let weightedAccuracyOf (c: Counts) : float =
    checkNonEmpty "weighted accuracy" c
    let p, n = c.Positives, c.Negatives

    if p = 0 then float c.TN / float n
    elif n = 0 then float c.TP / float p
    else (float c.TP / float p + float c.TN / float n) / 2.0

/// F1 of both classes averaged with weights = their support in the labels: scikit-learn's
/// f1_score(average="weighted"). Per class F1 = 2TP / (2TP + FP + FN), which is sklearn's 2PR / (P + R) with its
/// zero-division rule (precision or recall 0/0 → 0, F1 = 0 when TP = 0). A class absent from the labels has weight 0,
/// so with all labels negative F1 is the negative class's F1 (1 when nothing is predicted positive, as in sklearn,
/// which then sees one class only). No items is an error.
let weightedF1Of (c: Counts) : float =
    checkNonEmpty "weighted F1" c
    let p, n = c.Positives, c.Negatives

    let f1Positive =
        if p = 0 then
            0.0
        else
            2.0 * float c.TP / float (2 * c.TP + c.FP + c.FN)

    let f1Negative =
        if n = 0 then
            0.0
        else
            2.0 * float c.TN / float (2 * c.TN + c.FP + c.FN)

    (float p * f1Positive + float n * f1Negative) / float (p + n)

/// Weighted accuracy (balanced accuracy) of predictions; see `weightedAccuracyOf`.
let weightedAccuracy (labels: bool[]) (predictions: bool[]) : float =
    weightedAccuracyOf (counts labels predictions)

/// Support-weighted F1 of predictions; see `weightedF1Of`.
let weightedF1 (labels: bool[]) (predictions: bool[]) : float =
    weightedF1Of (counts labels predictions)

/// Predictions at a threshold: score > threshold.
let predict (threshold: float) (scores: float[]) : bool[] =
    scores |> Array.map (fun s -> s > threshold)

/// Which metric a threshold is tuned for.
type Objective =
    | WeightedAccuracy
    | WeightedF1

/// An exact non-negative rational (numerator, denominator > 0), for comparing metric values without rounding.
type private Ratio = BigInteger * BigInteger

let private ratio (num: int64) (den: int64) : Ratio = BigInteger num, BigInteger den

let private add ((a, b): Ratio) ((c, d): Ratio) : Ratio = a * d + c * b, b * d

/// Whether the first ratio is larger than the second.
let private larger ((a, b): Ratio) ((c, d): Ratio) = a * d > c * b

/// The metric as an exact fraction: the same definitions as weightedAccuracyOf / weightedF1Of.
let private exact (objective: Objective) (c: Counts) : Ratio =
    let tp, fp, tn, fn = int64 c.TP, int64 c.FP, int64 c.TN, int64 c.FN
    let p, n = tp + fn, tn + fp

    match objective with
    | WeightedAccuracy ->
        if p = 0L then ratio tn n
        elif n = 0L then ratio tp p
        else ratio (tp * n + tn * p) (2L * p * n)
    | WeightedF1 ->
        // (P · 2TP/(2TP+FP+FN) + N · 2TN/(2TN+FP+FN)) / (P + N); a class with no support contributes 0.
        let term support num den =
            if support = 0L then
                ratio 0L 1L
            else
                ratio (support * num) den

        let num, den =
            add (term p (2L * tp) (2L * tp + fp + fn)) (term n (2L * tn) (2L * tn + fp + fn))

        num, den * BigInteger(p + n)

/// Checks one column of labels and scores: equal lengths, at least one item, finite scores.
let private checkColumn (what: string) (labels: bool[]) (scores: float[]) =
    if labels.Length <> scores.Length then
        raise (ArgumentException $"{what}: {labels.Length} labels but {scores.Length} scores")

    if labels.Length = 0 then
        raise (ArgumentException $"{what}: no items")

    scores
    |> Array.iteri (fun i s ->
        if not (Double.IsFinite s) then
            raise (ArgumentException $"{what}: item {i} has score {s}; scores must be finite"))

/// The candidate thresholds of a column of scores, ascending (see the module's rules): one below the smallest
/// score, the midpoints between consecutive distinct scores, one above the largest.
let candidates (scores: float[]) : float[] =
    if scores.Length = 0 then
        raise (ArgumentException "candidates: no scores")

    let sorted = Array.sort scores
    let distinct = ResizeArray [ sorted[0] ]

    for s in sorted do
        if s > distinct[distinct.Count - 1] then
            distinct.Add s

    let lo, hi = distinct[0], distinct[distinct.Count - 1]

    [|
        yield lo - max 1.0 (abs lo)
        for i in 0 .. distinct.Count - 2 do
            let a, b = distinct[i], distinct[i + 1]
            let mid = 0.5 * a + 0.5 * b
            yield (if mid >= b then a else mid)
        yield hi + max 1.0 (abs hi)
    |]

/// The threshold that maximises the metric on one emotion's DEVELOPMENT labels and scores: the smallest candidate
/// (see `candidates`) with the largest metric, compared exactly. Never call it with test data: `evaluate` does the
/// tuning on dev and only applies the thresholds to test.
let tuneThreshold (objective: Objective) (devLabels: bool[]) (devScores: float[]) : float =
    checkColumn "tuneThreshold" devLabels devScores
    let cands = candidates devScores
    let order = Array.init devScores.Length id |> Array.sortBy (fun i -> devScores[i])
    let positives = devLabels |> Array.filter id |> Array.length
    // Candidate 0: everything positive. Candidate j: the j smallest distinct scores are predicted negative.
    let mutable c =
        {
            TP = positives
            FP = devLabels.Length - positives
            TN = 0
            FN = 0
        }

    let mutable best = exact objective c
    let mutable bestThreshold = cands[0]
    let mutable i = 0
    let mutable j = 0

    while i < order.Length do
        let value = devScores[order[i]]

        while i < order.Length && devScores[order[i]] = value do
            if devLabels[order[i]] then
                c <- { c with TP = c.TP - 1; FN = c.FN + 1 }
            else
                c <- { c with FP = c.FP - 1; TN = c.TN + 1 }

            i <- i + 1

        j <- j + 1
        let m = exact objective c

        if larger m best then
            best <- m
            bestThreshold <- cands[j]

    bestThreshold

/// Per-emotion thresholds (emotions in the order of `emotions`), one set for WA and one for F1.
type Thresholds = { WA: float[]; F1: float[] }

/// One emotion's metrics on a split at given thresholds.
type EmotionMetrics =
    {
        Emotion: string
        /// Weighted accuracy at WAThreshold, in [0, 1].
        WA: float
        /// Support-weighted F1 at F1Threshold, in [0, 1].
        F1: float
        WAThreshold: float
        F1Threshold: float
        /// Items of the split that show the emotion, and that do not.
        Positives: int
        Negatives: int
    }

/// The metrics of one split: per emotion, and the plain means over the six emotions.
type Report =
    {
        Split: string
        PerEmotion: EmotionMetrics[]
        AverageWA: float
        AverageF1: float
    }

/// Checks a split: items × 6 labels and scores, the same number of items, at least one, finite scores. Errors name
/// the split and the item (0-based).
let validate (split: Split) =
    let name = split.Name
    let labels, scores = split.Labels, split.Scores

    if isNull labels || isNull scores then
        raise (ArgumentException $"{name}: labels or scores missing")

    if labels.Length <> scores.Length then
        raise (ArgumentException $"{name}: {labels.Length} label rows but {scores.Length} score rows")

    if labels.Length = 0 then
        raise (ArgumentException $"{name}: no items")

    let expected = String.Join(", ", emotions)

    for i in 0 .. labels.Length - 1 do
        let l, s = labels[i], scores[i]

        if isNull l || l.Length <> emotions.Length then
            let got = if isNull l then 0 else l.Length
            raise (ArgumentException $"{name}: item {i} has {got} labels; expected {emotions.Length} ({expected})")

        if isNull s || s.Length <> emotions.Length then
            let got = if isNull s then 0 else s.Length
            raise (ArgumentException $"{name}: item {i} has {got} scores; expected {emotions.Length} ({expected})")

        for e in 0 .. emotions.Length - 1 do
            if not (Double.IsFinite s[e]) then
                raise (ArgumentException $"{name}: item {i} has {emotions[e]} score {s[e]}; scores must be finite")

let private column (rows: 'T[][]) (e: int) = rows |> Array.map (fun r -> r[e])

let private checkThresholds (t: Thresholds) =
    for name, values in [ "WA", t.WA; "F1", t.F1 ] do
        if isNull values || values.Length <> emotions.Length then
            raise (ArgumentException $"thresholds: {name} needs {emotions.Length} values, one per emotion")

        if values |> Array.exists Double.IsNaN then
            raise (ArgumentException $"thresholds: {name} has NaN")

/// Thresholds tuned on the DEVELOPMENT split, for WA and for F1 separately (see `tuneThreshold`).
let tune (dev: Split) : Thresholds =
    validate dev

    let per objective =
        Array.init emotions.Length (fun e -> tuneThreshold objective (column dev.Labels e) (column dev.Scores e))

    {
        WA = per WeightedAccuracy
        F1 = per WeightedF1
    }

/// The metrics of a split at fixed thresholds (nothing is tuned).
let score (thresholds: Thresholds) (split: Split) : Report =
    validate split
    checkThresholds thresholds

    let per =
        Array.init emotions.Length (fun e ->
            let labels, scores = column split.Labels e, column split.Scores e
            let waCounts = counts labels (predict thresholds.WA[e] scores)
            let f1Counts = counts labels (predict thresholds.F1[e] scores)

            {
                Emotion = emotions[e]
                WA = weightedAccuracyOf waCounts
                F1 = weightedF1Of f1Counts
                WAThreshold = thresholds.WA[e]
                F1Threshold = thresholds.F1[e]
                Positives = waCounts.Positives
                Negatives = waCounts.Negatives
            })

    {
        Split = split.Name
        PerEmotion = per
        AverageWA = per |> Array.averageBy (fun m -> m.WA)
        AverageF1 = per |> Array.averageBy (fun m -> m.F1)
    }

/// The paper's protocol: thresholds tuned on dev (for WA and F1 separately), metrics computed on test. The test
/// labels never influence the thresholds.
let evaluate (dev: Split) (test: Split) : Report =
    validate test // before tuning, so a bad test split fails fast
    score (tune dev) test

/// The dev metrics at dev-tuned thresholds, for model selection (never look at test to choose a model).
let devReport (dev: Split) : Report = score (tune dev) dev

/// The paper's model-selection criterion: the mean of the average WA and the average F1 (on the dev report).
let selectionScore (report: Report) : float =
    (report.AverageWA + report.AverageF1) / 2.0

/// A point estimate with a bootstrap percentile interval.
type Interval =
    {
        Value: float
        Low: float
        High: float
    }

    /// Half the interval's width: the "±" of value ± half-width.
    member i.HalfWidth = (i.High - i.Low) / 2.0

/// What the bootstrap resamples: a test item (a segment) or a cluster of items that are not independent (the
/// segments of one video, the videos of one speaker). "segment", "video" or "speaker"; the cluster of each item
/// comes from the data (its id, the corpus manifest), never from this module.
module BootstrapUnit =
    /// Each test item on its own.
    [<Literal>]
    let Segment = "segment"

    /// The segments of one video together (CMU-MOSEI: segment ids are `video[index]`).
    [<Literal>]
    let Video = "video"

    /// The items of one speaker together (the demo corpus, whose folds are by speaker).
    [<Literal>]
    let Speaker = "speaker"

    /// The units a bootstrap can resample.
    let all = [ Segment; Video; Speaker ]

/// Bootstrap settings.
type BootstrapOptions =
    {
        /// Resamples of the test items (B).
        Resamples: int
        /// Seed of System.Random (its seeded sequence is fixed across .NET versions).
        Seed: int
        /// Coverage of the interval, e.g. 0.95.
        Level: float
        /// What one draw takes (see `BootstrapUnit`): with "segment" the items, otherwise whole clusters.
        Unit: string
    }

/// 1000 resamples, seed 0, 95 %, over segments (for a split without cluster information; the main job resamples
/// clusters, see `bootstrapClusters`).
let defaultBootstrap =
    {
        Resamples = 1000
        Seed = 0
        Level = 0.95
        Unit = BootstrapUnit.Segment
    }

/// One emotion's intervals.
type EmotionIntervals =
    {
        Emotion: string
        WA: Interval
        F1: Interval
    }

/// Bootstrap intervals of a report's metrics.
type Confidence =
    {
        PerEmotion: EmotionIntervals[]
        AverageWA: Interval
        AverageF1: Interval
        Options: BootstrapOptions
        /// The clusters resampled (the items, with unit "segment").
        Clusters: int
    }

/// The q-quantile of sorted values, interpolating linearly between order statistics (NumPy's default).
let private quantile (sorted: float[]) (q: float) =
    let h = float (sorted.Length - 1) * q
    let lo = int (floor h)
    let hi = min (lo + 1) (sorted.Length - 1)
    sorted[lo] + (h - float lo) * (sorted[hi] - sorted[lo])

/// Percentile bootstrap intervals at FIXED thresholds (tuned on dev beforehand; they are not re-tuned per
/// resample), resampling whole clusters: `clusters[i]` names the cluster of test item i (its video or speaker; the
/// caller takes it from the data). B times, draw as many clusters as the split has, with replacement, take every
/// item of each drawn cluster (the same draw for all six emotions), and recompute WA, F1 and their averages.
/// Segments of one video are not independent, so resampling segments understates the spread; resampling clusters
/// does not. With every item its own cluster (in item order) this is `bootstrap` exactly, draw for draw. The
/// interval is [q, 1 - q] with q = (1 - Level) / 2 of the B values; Value is the metric on the split itself. A
/// resample without positives (or negatives) of an emotion uses the one-class rule of `weightedAccuracyOf` /
/// `weightedF1Of`. With one cluster only every resample is the split itself and the interval has width 0.
let bootstrapClusters (options: BootstrapOptions) (thresholds: Thresholds) (test: Split) (clusters: string[]) : Confidence =
    if options.Resamples < 1 then
        raise (ArgumentException $"bootstrap: Resamples must be at least 1, got {options.Resamples}")

    if not (options.Level > 0.0 && options.Level < 1.0) then
        raise (ArgumentException $"bootstrap: Level must be in (0, 1), got {options.Level}")

    if not (List.contains options.Unit BootstrapUnit.all) then
        let known = String.Join(", ", BootstrapUnit.all)
        raise (ArgumentException $"bootstrap: unknown Unit '{options.Unit}' ({known})")

    validate test

    if isNull clusters || clusters.Length <> test.Labels.Length then
        let got = if isNull clusters then 0 else clusters.Length
        raise (ArgumentException $"bootstrap: {test.Name} has {test.Labels.Length} items but {got} cluster names")

    clusters
    |> Array.iteri (fun i c ->
        if String.IsNullOrEmpty c then
            raise (ArgumentException $"bootstrap: {test.Name}: item {i} has no cluster"))

    let report = score thresholds test
    let n = test.Labels.Length
    let k = emotions.Length
    let labels = Array.init k (column test.Labels)
    let scores = Array.init k (column test.Scores)
    let predWA = Array.init k (fun e -> predict thresholds.WA[e] scores[e])
    let predF1 = Array.init k (fun e -> predict thresholds.F1[e] scores[e])
    let rng = Random options.Seed
    let wa = Array.init k (fun _ -> Array.zeroCreate options.Resamples)
    let f1 = Array.init k (fun _ -> Array.zeroCreate options.Resamples)
    let avgWA = Array.zeroCreate options.Resamples
    let avgF1 = Array.zeroCreate options.Resamples
    let weight = Array.zeroCreate<int> n
    // The items of each cluster, clusters in order of first appearance.
    let members =
        clusters
        |> Array.indexed
        |> Array.groupBy snd
        |> Array.map (fun (_, items) -> items |> Array.map fst)

    let m = members.Length

    let weightedCounts (y: bool[]) (p: bool[]) =
        let mutable tp, fp, tn, fn = 0, 0, 0, 0

        for i in 0 .. n - 1 do
            let w = weight[i]

            if w > 0 then
                match y[i], p[i] with
                | true, true -> tp <- tp + w
                | false, true -> fp <- fp + w
                | false, false -> tn <- tn + w
                | true, false -> fn <- fn + w

        { TP = tp; FP = fp; TN = tn; FN = fn }

    for b in 0 .. options.Resamples - 1 do
        Array.fill weight 0 n 0

        for _ in 1..m do
            for i in members[rng.Next m] do
                weight[i] <- weight[i] + 1

        for e in 0 .. k - 1 do
            wa[e][b] <- weightedAccuracyOf (weightedCounts labels[e] predWA[e])
            f1[e][b] <- weightedF1Of (weightedCounts labels[e] predF1[e])

        avgWA[b] <- Array.init k (fun e -> wa[e][b]) |> Array.average
        avgF1[b] <- Array.init k (fun e -> f1[e][b]) |> Array.average

    let q = (1.0 - options.Level) / 2.0

    let interval (value: float) (samples: float[]) =
        let sorted = Array.sort samples

        {
            Value = value
            Low = quantile sorted q
            High = quantile sorted (1.0 - q)
        }

    {
        PerEmotion =
            Array.init k (fun e ->
                {
                    Emotion = emotions[e]
                    WA = interval report.PerEmotion[e].WA wa[e]
                    F1 = interval report.PerEmotion[e].F1 f1[e]
                })
        AverageWA = interval report.AverageWA avgWA
        AverageF1 = interval report.AverageF1 avgF1
        Options = options
        Clusters = m
    }

/// `bootstrapClusters` with every test item its own cluster: B times, draw as many items as the split has, with
/// replacement. Only right when the items are independent; segments of one video are not (see `bootstrapClusters`).
let bootstrap (options: BootstrapOptions) (thresholds: Thresholds) (test: Split) : Confidence =
    if options.Unit <> BootstrapUnit.Segment then
        raise (
            ArgumentException
                $"bootstrap: Unit '{options.Unit}' needs the cluster of every item (bootstrapClusters); this one resamples segments"
        )

    validate test
    bootstrapClusters options thresholds test (Array.init test.Labels.Length string)

/// A paired difference with its percentile bootstrap interval: the metric of model A minus model B.
type Difference =
    {
        /// Average WA of A minus that of B.
        DifferenceWA: Interval
        /// Average F1 of A minus that of B.
        DifferenceF1: Interval
    }

/// Paired percentile bootstrap of the difference of average WA and average F1 between two models scored on the SAME
/// test items (same ids in the same order, hence the same labels), each at its own fixed thresholds: every resample
/// draws clusters once (as `bootstrapClusters` does, from the same seed) and scores both models on that draw, so the
/// interval is of A − B on the same data; it is narrower than the two separate intervals suggest when the models
/// err on the same items. Value is A − B on the split itself.
let bootstrapDifference (options: BootstrapOptions) (a: Thresholds * Split) (b: Thresholds * Split) (clusters: string[]) : Difference =
    let (ta, sa), (tb, sb) = a, b

    if
        sa.Labels.Length <> sb.Labels.Length
        || Array.exists2 (fun (x: bool[]) y -> x <> y) sa.Labels sb.Labels
    then
        raise (ArgumentException $"bootstrapDifference: {sa.Name} and {sb.Name} are not the same test items (labels differ)")

    // Both confidences draw the same clusters from the same seed; their per-resample averages pair up.
    let samples (t: Thresholds) (s: Split) =
        let report = score t s
        let n = s.Labels.Length
        let k = emotions.Length
        let labels = Array.init k (column s.Labels)
        let scores = Array.init k (column s.Scores)
        let predWA = Array.init k (fun e -> predict t.WA[e] scores[e])
        let predF1 = Array.init k (fun e -> predict t.F1[e] scores[e])
        let rng = Random options.Seed
        let weight = Array.zeroCreate<int> n

        let members =
            clusters
            |> Array.indexed
            |> Array.groupBy snd
            |> Array.map (fun (_, items) -> items |> Array.map fst)

        let m = members.Length

        let weightedCounts (y: bool[]) (p: bool[]) =
            let mutable tp, fp, tn, fn = 0, 0, 0, 0

            for i in 0 .. n - 1 do
                let w = weight[i]

                if w > 0 then
                    match y[i], p[i] with
                    | true, true -> tp <- tp + w
                    | false, true -> fp <- fp + w
                    | false, false -> tn <- tn + w
                    | true, false -> fn <- fn + w

            { TP = tp; FP = fp; TN = tn; FN = fn }

        let avgWA = Array.zeroCreate options.Resamples
        let avgF1 = Array.zeroCreate options.Resamples

        for r in 0 .. options.Resamples - 1 do
            Array.fill weight 0 n 0

            for _ in 1..m do
                for i in members[rng.Next m] do
                    weight[i] <- weight[i] + 1

            avgWA[r] <-
                Array.init k (fun e -> weightedAccuracyOf (weightedCounts labels[e] predWA[e]))
                |> Array.average

            avgF1[r] <-
                Array.init k (fun e -> weightedF1Of (weightedCounts labels[e] predF1[e]))
                |> Array.average

        report, avgWA, avgF1

    // The checks of bootstrapClusters (options, clusters, splits) on both.
    bootstrapClusters options ta sa clusters |> ignore
    bootstrapClusters options tb sb clusters |> ignore
    let ra, waA, f1A = samples ta sa
    let rb, waB, f1B = samples tb sb
    let q = (1.0 - options.Level) / 2.0

    let interval (value: float) (xs: float[]) (ys: float[]) =
        let sorted = Array.map2 (-) xs ys |> Array.sort

        {
            Value = value
            Low = quantile sorted q
            High = quantile sorted (1.0 - q)
        }

    {
        DifferenceWA = interval (ra.AverageWA - rb.AverageWA) waA waB
        DifferenceF1 = interval (ra.AverageF1 - rb.AverageF1) f1A f1B
    }
