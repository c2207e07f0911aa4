module Research.Model.Tests.Data.MoseiCorpusTests

open System
open System.IO
open System.Text.Json
open Expecto
open Research.Model.Data
open Research.Model.Tests.Data.MoseiFixtures

let private mosei () = expected.Value.GetProperty "mosei"

let private foldOf =
    function
    | "train" -> MoseiFold.Train
    | "valid" -> MoseiFold.Valid
    | "test" -> MoseiFold.Test
    | other -> failwithf "fold %s" other

/// The expected segments (numpy's view), optionally without those the script found empty in a modality.
let private expectedSegments (dropEmpty: bool) =
    let empty =
        [
            for e in mosei().GetProperty("empty").EnumerateArray() -> e.GetProperty("video").GetString(), e.GetProperty("index").GetInt32()
        ]

    [
        for s in mosei().GetProperty("segments").EnumerateArray() do
            let key = s.GetProperty("video").GetString(), s.GetProperty("index").GetInt32()

            if not (dropEmpty && List.contains key empty) then
                yield s
    ]

let private checkLabels (got: MoseiSegment) (want: JsonElement) =
    let where = $"{got.VideoId} segment {got.Index}"
    Expect.equal got.VideoId (want.GetProperty("video").GetString()) "video"
    Expect.equal got.Index (want.GetProperty("index").GetInt32()) $"{where} index"
    Expect.equal got.Start (want.GetProperty("start").GetDouble()) $"{where} start"
    Expect.equal got.End (want.GetProperty("end").GetDouble()) $"{where} end"
    Expect.equal got.Fold (foldOf (want.GetProperty("fold").GetString())) $"{where} fold"
    Expect.equal got.Sentiment (float32 (want.GetProperty("sentiment").GetDouble())) $"{where} sentiment (column 0)"
    // Columns 1..6 in order: a reader that kept sentiment, or shifted a column, fails here.
    Expect.equal got.Intensities (doubles (want.GetProperty "intensities") |> Array.map float32) $"{where} intensities"
    Expect.equal got.Present [| for p in want.GetProperty("present").EnumerateArray() -> p.GetBoolean() |] $"{where} present"

let private rowsOf (want: JsonElement) (modality: string) =
    [|
        for r in want.GetProperty("rows").GetProperty(modality).EnumerateArray() -> r.GetInt32()
    |]

let private sum (x: float32[,]) =
    x |> Seq.cast<float32> |> Seq.sumBy float

let private throwsWith (action: unit -> unit) (parts: string list) =
    Expect.throwsC action (fun e ->
        for p in parts do
            Expect.stringContains e.Message p $"message names {p}")

[<Tests>]
let tests =
    testList
        "Data.MoseiCorpus"
        [
            test "files are found by root, whatever their names" {
                let files = MoseiCorpus.Discover corpus

                Expect.equal
                    (files |> Seq.map (fun kv -> kv.Key, Path.GetFileName kv.Value) |> List.ofSeq)
                    [
                        "All Labels", "CMU_MOSEI_Labels.csd"
                        "COVAREP", "CMU_MOSEI_COVAREP.csd"
                        "FACET 4.2", "facet_features.csd"
                        "glove_vectors", "CMU_MOSEI_TimestampedWordVectors.csd"
                    ]
                    "root -> file"
            }

            test "labels only: every fold segment, in order, with sentiment skipped and emotions binarised" {
                use c = MoseiCorpus.Open(corpus, folds, MoseiOptions.LabelsOnly)
                let got = c.Load()
                let want = expectedSegments false
                Expect.equal got.Count want.Length "segments"

                for g, w in Seq.zip got want do
                    checkLabels g w
                    Expect.isNull g.Audio "no audio read"
                    Expect.isNull g.Video "no video read"
                    Expect.isNull g.Text "no text read"

                Expect.equal
                    (List.ofSeq c.Report.MissingFromData)
                    (strings (mosei().GetProperty "missing_from_data"))
                    "in a fold, not in data"

                Expect.equal (List.ofSeq c.Report.NotInAnyFold) (strings (mosei().GetProperty "not_in_any_fold")) "in data, in no fold"
                Expect.isEmpty c.Report.Skipped "nothing skipped"
                Expect.equal c.Report.Segments want.Length "report count"
            }

            test "a segment without a word is an error naming the text file, video and segment" {
                use c = MoseiCorpus.Open(corpus, folds)
                let empty = mosei().GetProperty("empty")[0]
                let video = empty.GetProperty("video").GetString()
                let index = empty.GetProperty("index").GetInt32()

                throwsWith
                    (fun () -> c.Load() |> ignore)
                    [
                        "CMU_MOSEI_TimestampedWordVectors.csd"
                        "'glove_vectors'"
                        $"video '{video}'"
                        $"segment {index}"
                        "SkipEmptySegments"
                    ]
            }

            test "all modalities, empty segments skipped: overlapping rows and sums match numpy, -inf replaced and counted" {
                use c = MoseiCorpus.Open(corpus, folds, MoseiOptions(SkipEmptySegments = true))
                let got = c.Load()
                let want = expectedSegments true
                Expect.equal got.Count want.Length "segments"

                for g, w in Seq.zip got want do
                    checkLabels g w

                    for name, x, dim in [ "audio", g.Audio, 74; "video", g.Video, 35; "text", g.Text, 300 ] do
                        Expect.equal
                            (Array2D.length1 x, Array2D.length2 x)
                            ((rowsOf w name).Length, dim)
                            $"{g.VideoId}/{g.Index} {name} rows"

                        let wantSum = w.GetProperty("sums").GetProperty(name).GetDouble()
                        Expect.floatClose Accuracy.high (sum x) wantSum $"{g.VideoId}/{g.Index} {name} values (-inf as 0)"
                        Expect.all (Seq.cast<float32> x) Single.IsFinite $"{g.VideoId}/{g.Index} {name} finite"

                let skipped = [ for s in c.Report.Skipped -> s.VideoId, s.Index ]

                let empty =
                    [
                        for e in mosei().GetProperty("empty").EnumerateArray() ->
                            e.GetProperty("video").GetString(), e.GetProperty("index").GetInt32()
                    ]

                Expect.equal skipped empty "skips listed"
                Expect.stringContains c.Report.Skipped[0].Reason "glove_vectors" "reason names the root"

                let replaced =
                    mosei().GetProperty("neg_inf_replaced").GetProperty("COVAREP").GetInt64()

                Expect.equal
                    (Map.ofSeq (c.Report.NegativeInfinityReplaced |> Seq.map (fun kv -> kv.Key, kv.Value)))
                    (Map [ "COVAREP", replaced ])
                    "-inf count"
            }

            test "without text nothing is empty; -inf becomes the chosen value" {
                let options =
                    MoseiOptions(Modalities = (MoseiModalities.Audio ||| MoseiModalities.Video), NegativeInfinityValue = -7.5f)

                use c = MoseiCorpus.Open(corpus, folds, options)
                let got = c.Load()
                Expect.equal got.Count (expectedSegments false).Length "all segments"
                Expect.isEmpty c.Report.Skipped "no skips"

                let negInf =
                    [
                        for v in
                            expected.Value.GetProperty("files").GetProperty("CMU_MOSEI_COVAREP.csd").GetProperty("videos").EnumerateObject() do
                            for p in v.Value.GetProperty("neg_inf").EnumerateArray() -> v.Name, p[0].GetInt32(), p[1].GetInt32()
                    ]

                let mutable seen = 0

                for g, w in Seq.zip got (expectedSegments false) do
                    Expect.isNull g.Text "text not read"
                    let rows = rowsOf w "audio"

                    for video, row, column in negInf do
                        match Array.tryFindIndex ((=) row) rows with
                        | Some i when video = g.VideoId ->
                            Expect.equal g.Audio[i, column] -7.5f $"{video} row {row} column {column}"
                            seen <- seen + 1
                        | _ -> ()

                Expect.isGreaterThan seen 0 "a -inf inside a segment was checked"
            }

            test "a NaN feature is an error naming the file, video, row and column; or its segments are skipped" {
                let nan = expected.Value.GetProperty "nan"
                let video = nan.GetProperty("video").GetString()
                let row = nan.GetProperty("row").GetInt32()
                let column = nan.GetProperty("column").GetInt32()
                let data = fixture [ "nan" ]

                use c =
                    MoseiCorpus.Open(data, folds, MoseiOptions(Modalities = MoseiModalities.Audio))

                throwsWith
                    (fun () -> c.Load() |> ignore)
                    [
                        Path.Combine(data, "CMU_MOSEI_COVAREP.csd")
                        $"video '{video}'"
                        $"row {row}"
                        $"column {column}"
                        "NaN"
                    ]

                use c =
                    MoseiCorpus.Open(data, folds, MoseiOptions(Modalities = MoseiModalities.Audio, SkipNaNSegments = true))

                let got = c.Load()
                let skipped = [ for s in c.Report.Skipped -> s.VideoId, s.Index ]
                Expect.equal skipped [ for i in nan.GetProperty("skipped").EnumerateArray() -> video, i.GetInt32() ] "skipped segments"
                Expect.stringContains c.Report.Skipped[0].Reason $"row {row}" "reason names the row"
                Expect.equal got.Count ((expectedSegments false).Length - skipped.Length) "the rest"
            }

            test "any roots can serve; a video missing from a required modality is an error or a listed skip" {
                use tmp = new TempFolder()

                let labels i =
                    sequence [ 0.0, 1.0; 1.0, 2.0 ] 7 (fun r j -> if j = 0 then -1f else float32 ((r + j + i) % 4))

                writeCsd (tmp.File "labels.csd") "All Labels" [ "v1", labels 0; "v2", labels 1 ]
                let frames = [ for k in 0..7 -> float k * 0.25, float (k + 1) * 0.25 ]

                writeCsd
                    (tmp.File "a.csd")
                    "LFBE"
                    [
                        "v1", sequence frames 3 (fun _ _ -> 1f)
                        "v2", sequence frames 3 (fun _ _ -> 2f)
                    ]

                writeCsd (tmp.File "b.csd") "Pixels64" [ "v1", sequence frames 5 (fun i _ -> float32 i) ]
                writeFolds (tmp.File "folds.json") [ "v1" ] [ "v2" ] []

                let options =
                    MoseiOptions(AudioRoot = "LFBE", VideoRoot = "Pixels64", Modalities = (MoseiModalities.Audio ||| MoseiModalities.Video))

                use c = MoseiCorpus.Open(tmp.Path, tmp.File "folds.json", options)
                throwsWith (fun () -> c.Load() |> ignore) [ "b.csd"; "'Pixels64'"; "video 'v2'"; "segment 0"; "no such video" ]

                let skipping =
                    MoseiOptions(
                        AudioRoot = "LFBE",
                        VideoRoot = "Pixels64",
                        Modalities = (MoseiModalities.Audio ||| MoseiModalities.Video),
                        SkipEmptySegments = true
                    )

                use c = MoseiCorpus.Open(tmp.Path, tmp.File "folds.json", skipping)
                let got = c.Load()
                Expect.equal [ for s in got -> s.VideoId, s.Index, s.Fold ] [ "v1", 0, MoseiFold.Train; "v1", 1, MoseiFold.Train ] "v1 only"
                Expect.equal [ for s in c.Report.Skipped -> s.VideoId, s.Index ] [ "v2", 0; "v2", 1 ] "v2 listed"

                Expect.equal
                    (Array2D.length1 got[0].Audio, Array2D.length1 got[0].Video)
                    (4, 4)
                    "[0, 1]: frames 0-3, touching frame 4 excluded"

                Expect.equal got[1].Video[0, 0] 4f "segment [1, 2] starts at frame 4"
            }

            test "labels with a value outside [0, 3] or not 7 columns are refused naming the place" {
                use tmp = new TempFolder()
                writeFolds (tmp.File "folds.json") [ "v" ] [] []

                writeCsd
                    (tmp.File "l.csd")
                    "All Labels"
                    [
                        "v", sequence [ 0.0, 1.0; 1.0, 2.0 ] 7 (fun r j -> if r = 1 && j = 4 then 3.5f else 0f)
                    ]

                use c = MoseiCorpus.Open(tmp.Path, tmp.File "folds.json", MoseiOptions.LabelsOnly)
                throwsWith (fun () -> c.Load() |> ignore) [ "l.csd"; "video 'v'"; "segment 1"; "surprise is 3.5" ]
                writeCsd (tmp.File "l.csd") "All Labels" [ "v", sequence [ 0.0, 1.0 ] 6 (fun _ _ -> 0f) ]

                throwsWith
                    (fun () ->
                        MoseiCorpus.Open(tmp.Path, tmp.File "folds.json", MoseiOptions.LabelsOnly)
                        |> ignore)
                    [ "l.csd"; "6 columns"; "expected 7" ]
            }

            test "a root that no file has is an error listing the roots found" {
                throwsWith
                    (fun () ->
                        MoseiCorpus.Open(corpus, folds, MoseiOptions(VideoRoot = "OpenFace_2"))
                        |> ignore)
                    [ "'OpenFace_2'"; "'FACET 4.2'"; "'COVAREP'" ]
            }

            test "folds files: a video in two folds, an unknown key, a non-string id are errors naming them" {
                use tmp = new TempFolder()
                let path = tmp.File "f.json"
                writeFolds path [ "a"; "b" ] [ "c" ] [ "b" ]
                throwsWith (fun () -> MoseiFolds.Load path |> ignore) [ path; "'b'"; "train"; "test" ]
                File.WriteAllText(path, """{"train": [], "valid": [], "test": [], "dev": []}""")
                throwsWith (fun () -> MoseiFolds.Load path |> ignore) [ path; "dev" ]
                File.WriteAllText(path, """{"train": ["a", 3], "valid": [], "test": []}""")
                throwsWith (fun () -> MoseiFolds.Load path |> ignore) [ path; "\"train\"[1]" ]
                File.WriteAllText(path, """{"train": []}""")
                throwsWith (fun () -> MoseiFolds.Load path |> ignore) [ path; "\"valid\"" ]
            }
        ]
