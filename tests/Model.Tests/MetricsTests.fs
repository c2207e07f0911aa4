module Research.Model.Tests.MetricsTests

open System
open System.IO
open System.Text.Json.Nodes
open Expecto
open Research.Experiments
open Research.Experiments.Metrics
open Research.Model.Tests.ReferenceFiles

let private cases =
    lazy (JsonNode.Parse(File.ReadAllText(reference "metrics" "cases.json")))

let private floats (node: JsonNode) =
    node.AsArray() |> Seq.map (fun x -> x.GetValue<float>()) |> Array.ofSeq

let private bools (node: JsonNode) =
    node.AsArray() |> Seq.map (fun x -> x.GetValue<int>() = 1) |> Array.ofSeq

let private splitOf (name: string) (node: JsonNode) : Split =
    {
        Name = name
        Labels = node["labels"].AsArray() |> Seq.map bools |> Array.ofSeq
        Scores = node["scores"].AsArray() |> Seq.map floats |> Array.ofSeq
    }

/// The number at a path of object keys.
let private valueAt (node: JsonNode) (path: string list) =
    (path |> List.fold (fun (n: JsonNode) (k: string) -> n[k]) node).GetValue<float>()

let private close (actual: float) (expected: float) (what: string) =
    Expect.floatClose { absolute = 1e-9; relative = 0.0 } actual expected what

/// A random six-emotion split: scores = separation · label + N(0, 1) noise, positives with the given rates.
let private randomSplit (seed: int) (name: string) (n: int) (separation: float) : Split =
    let rng = Random seed
    let rates = [| 0.5; 0.3; 0.2; 0.1; 0.15; 0.05 |]

    let gauss () =
        sqrt (-2.0 * log (1.0 - rng.NextDouble()))
        * cos (2.0 * Math.PI * rng.NextDouble())

    let labels =
        Array.init n (fun _ -> rates |> Array.map (fun r -> rng.NextDouble() < r))

    {
        Name = name
        Labels = labels
        Scores =
            labels
            |> Array.map (Array.map (fun y -> (if y then separation else 0.0) + gauss ()))
    }

let private thresholdsOf (r: Report) =
    r.PerEmotion |> Array.map (fun m -> m.WAThreshold, m.F1Threshold)

let private throwsWith (f: unit -> unit) (parts: string list) =
    Expect.throwsC f (fun e ->
        for p in parts do
            Expect.stringContains e.Message p $"the message names {p}")

let private fixture (name: string) = reference "metrics" name

let private withCsv (text: string) (f: string -> unit) =
    use dir = new TempDir()
    let path = dir.File "split.csv"
    File.WriteAllText(path, text)
    f path

let private header = String.Join(",", Evaluate.columns)

[<Tests>]
let tests =
    testList
        "Metrics"
        [
            test "WA and weighted F1 equal scikit-learn's at given thresholds (score > threshold is positive)" {
                for case in cases.Value["binary"].AsArray() do
                    let name = case["name"].GetValue<string>()
                    let labels, scores = bools case["labels"], floats case["scores"]

                    for at in case["at_threshold"].AsArray() do
                        let t = at["threshold"].GetValue<float>()
                        let predictions = predict t scores
                        close (weightedAccuracy labels predictions) (at["wa"].GetValue<float>()) $"{name}: WA at {t}"
                        close (weightedF1 labels predictions) (at["f1"].GetValue<float>()) $"{name}: F1 at {t}"
            }

            test "tuned thresholds equal the brute-force search's (smallest maximiser), with sklearn's value there" {
                for case in cases.Value["binary"].AsArray() do
                    let name = case["name"].GetValue<string>()
                    let labels, scores = bools case["labels"], floats case["scores"]

                    for key, objective, metric in [ "wa", WeightedAccuracy, weightedAccuracy; "f1", WeightedF1, weightedF1 ] do
                        let want = case["tuned"][key]
                        let t = tuneThreshold objective labels scores
                        Expect.equal t (want["threshold"].GetValue<float>()) $"{name}: {key} threshold"
                        close (metric labels (predict t scores)) (want["value"].GetValue<float>()) $"{name}: {key} value"
            }

            test "candidates: one per way to split the sorted scores, ascending, each between its neighbours" {
                let scores = [| 0.3; 0.1; 0.3; -2.0; 0.1; 5.0; 0.2 |]
                let c = candidates scores
                Expect.equal c [| -4.0; -0.95; 0.15000000000000002; 0.25; 2.65; 10.0 |] "values"
                // Adjacent doubles: the midpoint rounds onto the lower one, or (second pair) onto the upper one.
                let u1 = Math.BitIncrement 1.0

                for pair in [ [| 1.0; u1 |]; [| u1; Math.BitIncrement u1 |] ] do
                    let ct = candidates pair
                    Expect.equal ct.Length 3 "three candidates"
                    Expect.equal (predict ct[1] pair) [| false; true |] "the middle one still separates them"

                Expect.equal (candidates [| 1e300 |]) [| 0.0; 2e300 |] "far from zero: offset |v|"
            }

            test "WA = (TP·N/P + TN) / (2N) = (TPR + TNR) / 2, the balanced accuracy" {
                let rng = Random 7

                for _ in 1..200 do
                    let n = rng.Next(2, 60)
                    let labels = Array.init n (fun _ -> rng.NextDouble() < 0.3)
                    let predictions = Array.init n (fun _ -> rng.NextDouble() < 0.5)
                    let c = counts labels predictions
                    let p, nn = float c.Positives, float c.Negatives

                    if p > 0.0 && nn > 0.0 then
                        let literal = (float c.TP * nn / p + float c.TN) / (2.0 * nn)
                        let balanced = (float c.TP / p + float c.TN / nn) / 2.0
                        let wa = weightedAccuracy labels predictions
                        Expect.floatClose Accuracy.veryHigh wa literal "the MOSEI formula"
                        Expect.floatClose Accuracy.veryHigh wa balanced "balanced accuracy"
            }

            test "one class only: WA is the recall of the class present, F1 of it; no NaN" {
                let none = Array.create 4 false
                Expect.equal (weightedAccuracy none [| false; true; false; false |]) 0.75 "no positives: TNR"
                Expect.equal (weightedF1 none none) 1.0 "nothing true, nothing predicted: 1 (sklearn)"
                Expect.equal (weightedF1 none [| true; true; false; false |]) (2.0 * 2.0 / 6.0) "negative class F1"
                let all = Array.create 4 true
                Expect.equal (weightedAccuracy all [| true; false; true; true |]) 0.75 "no negatives: TPR"
                Expect.equal (weightedF1 all none) 0.0 "all missed"
                throwsWith (fun () -> weightedAccuracy [||] [||] |> ignore) [ "no items" ]
            }

            test "evaluate on six emotions: dev-tuned thresholds and test metrics equal sklearn's" {
                let case = cases.Value["six_emotions"]
                let dev, test = splitOf "dev" case["dev"], splitOf "test" case["test"]
                let report = evaluate dev test
                let want = case["expected"]

                for m in report.PerEmotion do
                    let t = case["thresholds"][m.Emotion]
                    Expect.equal m.WAThreshold (t["wa"].GetValue<float>()) $"{m.Emotion} WA threshold"
                    Expect.equal m.F1Threshold (t["f1"].GetValue<float>()) $"{m.Emotion} F1 threshold"
                    close m.WA (valueAt want [ "per_emotion"; m.Emotion; "wa" ]) $"{m.Emotion} WA"
                    close m.F1 (valueAt want [ "per_emotion"; m.Emotion; "f1" ]) $"{m.Emotion} F1"

                Expect.equal (report.PerEmotion |> Array.map _.Emotion) emotions "emotion order"
                close report.AverageWA (valueAt want [ "average"; "wa" ]) "average WA"
                close report.AverageF1 (valueAt want [ "average"; "f1" ]) "average F1"
                Expect.equal report.Split "test" "the report is of the test split"
            }

            test "thresholds come from dev only: changing test labels and scores leaves them; changing dev does not" {
                let dev = randomSplit 1 "dev" 300 1.0
                let test = randomSplit 2 "test" 200 1.0
                let baseline = evaluate dev test
                let rng = Random 3
                let shuffled = test.Labels |> Array.sortBy (fun _ -> rng.Next())
                let flipped = test.Labels |> Array.map (Array.map not)
                let rescored = test.Scores |> Array.map (Array.map (fun s -> 3.0 * s - 1.0))

                for name, other in
                    [
                        "shuffled labels", { test with Labels = shuffled }
                        "flipped labels", { test with Labels = flipped }
                        "other scores", { test with Scores = rescored }
                    ] do
                    let r = evaluate dev other
                    Expect.equal (thresholdsOf r) (thresholdsOf baseline) $"{name}: same thresholds"
                    Expect.notEqual r.AverageWA baseline.AverageWA $"{name}: the test metrics did change"

                let dev' = randomSplit 4 "dev" 300 1.0
                let r = evaluate dev' test
                Expect.notEqual (thresholdsOf r) (thresholdsOf baseline) "another dev split: other thresholds"

                let devFlipped =
                    { dev with
                        Labels = dev.Labels |> Array.map (fun l -> Array.append [| not l[0] |] l[1..])
                    }

                let r = evaluate devFlipped test
                let before, after = thresholdsOf baseline, thresholdsOf r
                Expect.notEqual after[0] before[0] "happy's dev labels flipped: happy's thresholds move"
                Expect.equal after[1..] before[1..] "the other emotions' thresholds stay"
            }

            test "a perfect scorer gets WA = F1 = 1, on test and for model selection" {
                let perfect (s: Split) =
                    { s with
                        Scores =
                            s.Labels
                            |> Array.mapi (fun i l -> l |> Array.map (fun y -> (if y then 1.0 else 0.0) + 0.001 * float (i % 7)))
                    }

                let dev = perfect (randomSplit 5 "dev" 120 0.0)
                let test = perfect (randomSplit 6 "test" 80 0.0)
                let r = evaluate dev test

                for m in r.PerEmotion do
                    Expect.equal (m.WA, m.F1) (1.0, 1.0) m.Emotion

                Expect.equal (r.AverageWA, r.AverageF1) (1.0, 1.0) "averages"
                Expect.equal (selectionScore (devReport dev)) 1.0 "selection score on dev"
                let r0 = randomSplit 5 "dev" 120 0.0
                Expect.isLessThan (selectionScore (devReport r0)) 1.0 "an uninformative scorer is below 1"
            }

            test "score applies fixed thresholds; devReport is dev at dev-tuned thresholds; selection = (WA + F1) / 2" {
                let dev = randomSplit 8 "dev" 150 1.5
                let t = tune dev
                let r = score t dev
                Expect.equal (devReport dev) r "devReport"
                Expect.equal (selectionScore r) ((r.AverageWA + r.AverageF1) / 2.0) "selection score"

                let half =
                    {
                        WA = Array.create 6 0.5
                        F1 = Array.create 6 0.5
                    }

                let fixedReport = score half dev

                for e in 0..5 do
                    let labels = dev.Labels |> Array.map (fun l -> l[e])
                    let predictions = dev.Scores |> Array.map (fun s -> s[e] > 0.5)
                    Expect.equal fixedReport.PerEmotion[e].WA (weightedAccuracy labels predictions) "fixed 0.5"
                    Expect.isGreaterThanOrEqual r.PerEmotion[e].WA fixedReport.PerEmotion[e].WA "tuned ≥ fixed on dev"
                    Expect.isGreaterThanOrEqual r.PerEmotion[e].F1 fixedReport.PerEmotion[e].F1 "tuned ≥ fixed on dev"
            }

            test "bad input is an error naming the split and the item" {
                let good = randomSplit 9 "test" 10 1.0
                let dev = randomSplit 10 "dev" 10 1.0

                let withScore i e v =
                    { good with
                        Scores = good.Scores |> Array.mapi (fun j s -> if j = i then Array.updateAt e v s else s)
                    }

                throwsWith (fun () -> evaluate dev (withScore 3 1 nan) |> ignore) [ "test"; "item 3"; "sad"; "finite" ]
                throwsWith (fun () -> evaluate (withScore 0 5 infinity) good |> ignore) [ "test"; "item 0"; "fear" ]

                throwsWith
                    (fun () -> evaluate dev { good with Labels = good.Labels[1..] } |> ignore)
                    [ "test"; "9 label rows but 10 score rows" ]

                throwsWith
                    (fun () ->
                        evaluate
                            { dev with
                                Scores = dev.Scores |> Array.updateAt 4 [| 0.1; 0.2; 0.3; 0.4; 0.5 |]
                            }
                            good
                        |> ignore)
                    [ "dev"; "item 4"; "5 scores"; "expected 6" ]

                throwsWith
                    (fun () ->
                        evaluate
                            dev
                            { good with
                                Labels = [||]
                                Scores = [||]
                            }
                        |> ignore)
                    [ "test"; "no items" ]

                throwsWith (fun () -> tuneThreshold WeightedF1 [| true |] [| 0.1; 0.2 |] |> ignore) [ "1 labels but 2 scores" ]

                throwsWith
                    (fun () ->
                        score
                            {
                                WA = Array.create 5 0.0
                                F1 = Array.create 6 0.0
                            }
                            good
                        |> ignore)
                    [ "WA needs 6 values" ]
            }

            test "bootstrap: the interval holds the estimate, narrows with more data, and a seed repeats it" {
                let dev = randomSplit 11 "dev" 400 1.0
                let t = tune dev

                let options =
                    { defaultBootstrap with
                        Resamples = 300
                    }

                let small = bootstrap options t (randomSplit 12 "test" 300 1.0)
                let large = bootstrap options t (randomSplit 13 "test" 3000 1.0)

                for c in [ small; large ] do
                    for i in Array.append [| c.AverageWA; c.AverageF1 |] (c.PerEmotion |> Array.collect (fun e -> [| e.WA; e.F1 |])) do
                        Expect.isTrue (i.Low <= i.Value && i.Value <= i.High) $"{i} holds its value"

                Expect.isLessThan large.AverageWA.HalfWidth (small.AverageWA.HalfWidth * 0.6) "WA: 10× data, ~1/3 width"
                Expect.isLessThan large.AverageF1.HalfWidth (small.AverageF1.HalfWidth * 0.6) "F1: 10× data"
                let test = randomSplit 12 "test" 300 1.0
                Expect.equal (bootstrap options t test) small "same seed, same intervals"
                let other = bootstrap { options with Seed = 1 } t test
                Expect.notEqual other.AverageWA small.AverageWA "another seed, other intervals"
                Expect.equal small.AverageWA.Value (score t test).AverageWA "the value is the test metric"
            }

            test "cluster bootstrap: identical segments within a video give wider intervals than segment resampling" {
                // 40 videos of 8 segments each; within a video every segment is the same (labels and scores), so
                // the test split holds 40 independent observations, not 320.
                let t = tune (randomSplit 21 "dev" 400 1.0)
                let videos = randomSplit 22 "videos" 40 1.0
                let perVideo = 8

                let test =
                    {
                        Name = "test"
                        Labels = Array.init (40 * perVideo) (fun i -> videos.Labels[i / perVideo])
                        Scores = Array.init (40 * perVideo) (fun i -> videos.Scores[i / perVideo])
                    }

                let clusters = Array.init test.Labels.Length (fun i -> $"video{i / perVideo}")

                let options =
                    { defaultBootstrap with
                        Resamples = 400
                    }

                let byVideo =
                    bootstrapClusters
                        { options with
                            Unit = BootstrapUnit.Video
                        }
                        t
                        test
                        clusters

                let bySegment = bootstrap options t test
                Expect.equal byVideo.Clusters 40 "40 videos resampled"
                Expect.equal bySegment.Clusters 320 "320 segments resampled"
                Expect.equal byVideo.AverageWA.Value bySegment.AverageWA.Value "the same estimate"
                // Resampling 320 segments treats 8 copies as independent: about √8 ≈ 2.8 times too narrow.
                Expect.isGreaterThan byVideo.AverageWA.HalfWidth (2.0 * bySegment.AverageWA.HalfWidth) "WA: video intervals wider"
                Expect.isGreaterThan byVideo.AverageF1.HalfWidth (2.0 * bySegment.AverageF1.HalfWidth) "F1: video intervals wider"
                // Resampling the 40 videos equals resampling the 40 distinct items of a split of one segment each.
                let single = bootstrap options t videos

                for a, b in [ byVideo.AverageWA, single.AverageWA; byVideo.AverageF1, single.AverageF1 ] do
                    close a.Low b.Low "same resamples as the one-segment-per-video split: low"
                    close a.High b.High "high"
            }

            test "cluster bootstrap: with independent segments, cluster and segment intervals have similar widths" {
                let t = tune (randomSplit 23 "dev" 400 1.0)
                let test = randomSplit 24 "test" 800 1.0
                let clusters = Array.init test.Labels.Length (fun i -> $"video{i / 8}")

                let options =
                    { defaultBootstrap with
                        Resamples = 400
                    }

                let byVideo =
                    bootstrapClusters
                        { options with
                            Unit = BootstrapUnit.Video
                        }
                        t
                        test
                        clusters

                let bySegment = bootstrap options t test

                for what, c, s in
                    [
                        "WA", byVideo.AverageWA.HalfWidth, bySegment.AverageWA.HalfWidth
                        "F1", byVideo.AverageF1.HalfWidth, bySegment.AverageF1.HalfWidth
                    ] do
                    Expect.isTrue (c > 0.75 * s && c < 1.33 * s) $"{what}: video {c} vs segment {s} within a third"
            }

            test "cluster bootstrap: a seed repeats it, another seed changes it; clusters are checked" {
                let t = tune (randomSplit 25 "dev" 300 1.0)
                let test = randomSplit 26 "test" 120 1.0
                let clusters = Array.init test.Labels.Length (fun i -> $"speaker{i % 15}")

                let options =
                    { defaultBootstrap with
                        Resamples = 200
                        Unit = BootstrapUnit.Speaker
                        Seed = 7
                    }

                let once = bootstrapClusters options t test clusters
                Expect.equal (bootstrapClusters options t test clusters) once "same seed, same intervals"
                Expect.equal once.Clusters 15 "15 speakers"
                let other = bootstrapClusters { options with Seed = 8 } t test clusters
                Expect.notEqual other.AverageWA once.AverageWA "another seed, other intervals"
                // Each item its own cluster, in item order: exactly the segment bootstrap, draw for draw.
                let items = Array.init test.Labels.Length string

                Expect.equal
                    (bootstrapClusters
                        { options with
                            Unit = BootstrapUnit.Segment
                        }
                        t
                        test
                        items)
                    (bootstrap
                        { options with
                            Unit = BootstrapUnit.Segment
                        }
                        t
                        test)
                    "segment resampling is the one-item-cluster case"

                throwsWith (fun () -> bootstrapClusters options t test clusters[1..] |> ignore) [ "test"; "120 items"; "119" ]

                throwsWith
                    (fun () -> bootstrapClusters { options with Unit = "room" } t test clusters |> ignore)
                    [ "'room'"; "segment, video, speaker" ]

                throwsWith (fun () -> bootstrap options t test |> ignore) [ "'speaker'"; "cluster" ]
                let blank = Array.copy clusters
                blank[3] <- ""
                throwsWith (fun () -> bootstrapClusters options t test blank |> ignore) [ "item 3"; "no cluster" ]
            }

            test "evaluate CSV files: the JSON equals sklearn's on the fixture (labels as intensities)" {
                let json, warnings =
                    Evaluate.evaluateFiles (fixture "dev.csv") (fixture "test.csv") None

                let want = JsonNode.Parse(File.ReadAllText(fixture "expected.json"))

                let keys (o: JsonNode) =
                    o.AsObject() |> Seq.map _.Key |> List.ofSeq

                Expect.equal (keys json) [ "per_emotion"; "average" ] "top-level keys"
                Expect.equal (keys json["per_emotion"]) (List.ofArray emotions) "emotions in order"

                for e in emotions do
                    for m in [ "wa"; "f1" ] do
                        close (valueAt json [ "per_emotion"; e; m ]) (valueAt want [ "per_emotion"; e; m ]) $"{e} {m}"

                close (valueAt json [ "average"; "wa" ]) (valueAt want [ "average"; "wa" ]) "average WA"
                close (valueAt json [ "average"; "f1" ]) (valueAt want [ "average"; "f1" ]) "average F1"
                Expect.isEmpty warnings "no warnings on the fixture"

                let withCi, _ =
                    Evaluate.evaluateFiles (fixture "dev.csv") (fixture "test.csv") (Some { defaultBootstrap with Resamples = 50 })

                Expect.equal (keys (withCi["per_emotion"]["happy"])) [ "wa"; "f1"; "wa_ci"; "f1_ci" ] "intervals"
                Expect.equal (keys withCi) [ "per_emotion"; "average"; "bootstrap" ] "bootstrap settings"

                let settings = withCi["bootstrap"]
                Expect.equal (keys settings) [ "resamples"; "seed"; "level"; "unit"; "clusters" ] "the bootstrap's parameters"
                Expect.equal (settings["unit"].GetValue<string>()) "segment" "evaluate resamples segments"
            }

            test "the evaluate command prints only the JSON on stdout; flags are checked" {
                let out = new StringWriter()
                let saved = Console.Out
                Console.SetOut out

                let code =
                    try
                        Research.Commands.Evaluate.main [| "--dev"; fixture "dev.csv"; "--test"; fixture "test.csv" |]
                    finally
                        Console.SetOut saved

                Expect.equal code 0 "exit code"
                let text = out.ToString().Trim()
                Expect.isFalse (text.Contains '\n') "one line"
                let parsed = JsonNode.Parse text
                Expect.isTrue (valueAt parsed [ "average"; "wa" ] > 0.0) "the JSON"

                for argv in
                    [
                        [| "--dev"; "a.csv" |]
                        [| "--dev"; "a.csv"; "--test"; "b.csv"; "--seed"; "1" |]
                        [| "--dev"; "a.csv"; "--test"; "b.csv"; "--bootstrap"; "0" |]
                        [| "--dev"; "a.csv"; "--test"; "b.csv"; "--threshold"; "0.5" |]
                    ] do
                    Expect.throwsC (fun () -> Research.Commands.Evaluate.main argv |> ignore) (fun e ->
                        Expect.isTrue (e :? Research.Commands.Cli.UsageError) $"""usage error for {String.concat " " argv}""")
            }

            test "bad CSV rows are errors naming the file and the line" {
                let row = "a,0,1,0,0,0,0,0.1,0.2,0.3,0.4,0.5,0.6"

                let expectError (text: string) (parts: string list) =
                    withCsv text (fun path -> throwsWith (fun () -> Evaluate.readSplit path |> ignore) (path :: parts))

                expectError $"{header}\n{row}\nb,0,1,0,0,0,0,0.1,oops,0.3,0.4,0.5,0.6\n" [ ":3"; "sad_score"; "'oops'" ]
                expectError $"{header}\n{row}\nb,0,1,0,0,0,0,0.1,NaN,0.3,0.4,0.5,0.6\n" [ ":3"; "sad_score"; "finite" ]
                expectError $"{header}\n{row}\nb,0,-1,0,0,0,0,0.1,0.2,0.3,0.4,0.5,0.6\n" [ ":3"; "'sad'"; "≥ 0" ]
                expectError $"{header}\n{row}\nb,0,1,0,0,0,0,0.1,0.2\n" [ ":3"; "9 fields"; "13" ]
                expectError $"{header}\n{row}\n\n{row}\n" [ ":4"; "'a'"; "line 2" ]
                expectError $"{header}\n" [ "no rows" ]
                expectError "" [ "empty file" ]

                expectError
                    "id,happy,sad,anger,surprise,disgust,happy_score,sad_score,anger_score,surprise_score,disgust_score\n"
                    [ ":1"; "fear, fear_score" ]

                // Columns by name, in any order, others ignored, quoted ids; intensities > 0 are present.
                let shuffled =
                    "fear_score,note,id,happy,sad,anger,surprise,disgust,fear,happy_score,sad_score,anger_score,surprise_score,disgust_score\n"
                    + "0.6,x,\"v,1[0]\",0.0,1.666667,0,0,0.333333,0,0.1,0.2,0.3,0.4,0.5\n"

                withCsv shuffled (fun path ->
                    let ids, split = Evaluate.readSplit path
                    Expect.equal ids [| "v,1[0]" |] "quoted id"
                    Expect.equal split.Labels [| [| false; true; false; false; true; false |] |] "labels"
                    Expect.equal split.Scores [| [| 0.1; 0.2; 0.3; 0.4; 0.5; 0.6 |] |] "scores by name")
            }

            test "paired bootstrap of a difference: value A − B, zero for a model against itself, narrower than unpaired" {
                let a = randomSplit 11 "test" 400 1.5
                let rng = Random 5
                // B: A's scores slightly perturbed, so the two models err on mostly the same items.
                let b =
                    { a with
                        Name = "test-b"
                        Scores = a.Scores |> Array.map (Array.map (fun x -> x + 0.3 * (rng.NextDouble() - 0.5)))
                    }

                let ta, tb = tune a, tune b
                let clusters = Array.init a.Labels.Length (fun i -> $"speaker{i % 40}")

                let options =
                    { defaultBootstrap with
                        Resamples = 300
                        Unit = BootstrapUnit.Speaker
                        Seed = 3
                    }

                let d = bootstrapDifference options (ta, a) (tb, b) clusters
                close d.DifferenceWA.Value ((score ta a).AverageWA - (score tb b).AverageWA) "WA: A − B on the split"
                close d.DifferenceF1.Value ((score ta a).AverageF1 - (score tb b).AverageF1) "F1: A − B on the split"

                Expect.isTrue
                    (d.DifferenceWA.Low <= d.DifferenceWA.Value
                     && d.DifferenceWA.Value <= d.DifferenceWA.High)
                    "the value inside its interval"

                let self = bootstrapDifference options (ta, a) (ta, a) clusters

                Expect.equal
                    (self.DifferenceWA.Low, self.DifferenceWA.High, self.DifferenceF1.Low, self.DifferenceF1.High)
                    (0.0, 0.0, 0.0, 0.0)
                    "itself: exactly 0"

                // Paired: the same draws for both, so the difference varies far less than either model's average.
                let single = bootstrapClusters options ta a clusters

                Expect.isLessThan
                    (d.DifferenceWA.High - d.DifferenceWA.Low)
                    (0.5 * (single.AverageWA.High - single.AverageWA.Low))
                    "paired WA narrower"

                throwsWith
                    (fun () ->
                        bootstrapDifference options (ta, a) (tb, randomSplit 12 "other" 400 1.5) clusters
                        |> ignore)
                    [ "test"; "other"; "not the same test items" ]
            }
        ]
