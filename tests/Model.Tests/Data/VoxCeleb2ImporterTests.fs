module Research.Model.Tests.VoxCeleb2ImporterTests

open System.IO
open System.Text.Json
open Expecto
open Research.Model.Data
open Research.Model.Tests.DataFixtures

/// Clips of the fake tree: (speaker, youtube id, clip, has mp4, transcript, score).
let private clips =
    [
        "id00001", "a-b_c", "00001", true, Some "hello there", Some -1.0
        "id00001", "a-b_c", "00002", true, Some "below", Some -2.5
        "id00001", "xyz", "00001", true, Some "exactly at threshold", Some -2.0
        "id00001", "xyz", "00002", false, Some "no video", Some 0.0
        "id00002", "-Q_-9", "00001", true, Some "dash first", Some -0.5
        "id00002", "-Q_-9", "00002", true, None, Some 0.0
        "id00002", "k", "00003", true, Some "", Some 0.0
        "id00003", "m", "00001", true, Some "unscored", None
    ]

let private idOf (s, y, c, _, _, _) = $"{s}-{y}-{c}"

/// Writes the tree (tiny files), the transcripts and the scores; returns (root, text, scores).
let private writeTree (d: TempDir) (clips: (string * string * string * bool * string option * float option) list) =
    for s, y, c, mp4, _, _ as clip in clips do
        d.WriteBytes($"vox/dev/aac/{s}/{y}/{c}.m4a", [| 0uy |]) |> ignore

        if mp4 then
            d.WriteBytes($"vox/dev/mp4/{s}/{y}/{c}.mp4", [| 0uy |]) |> ignore

    // A video without audio, and lines for clips that are not in the tree.
    d.WriteBytes("vox/dev/mp4/id00009/z/00001.mp4", [| 0uy |]) |> ignore

    let text =
        d.Write(
            "text",
            [
                for _, _, _, _, t, _ as clip in clips do
                    match t with
                    | Some t -> $"{idOf clip} {t}".TrimEnd()
                    | None -> ()
                "id00099-gone-00001 elsewhere"
            ]
        )

    let scores =
        d.Write(
            "scores",
            [
                for _, _, _, _, _, score as clip in clips do
                    match score with
                    | Some v -> $"{idOf clip} {v}"
                    | None -> ()
            ]
        )

    d.Sub "vox", text, scores

/// Options that skip the fixture's bad clips (missing mp4, transcript or score; an empty transcript).
let private options threshold =
    VoxCeleb2ImportOptions(Threshold = threshold, SkipBadInputs = true)

[<Tests>]
let tests =
    testList
        "Data.VoxCeleb2Importer"
        [
            test "keeps utterances scoring at least the threshold and writes a valid data dir with a report" {
                use d = new TempDir()
                let root, text, scores = writeTree d clips
                let out = d.Sub "data/train"
                let r = VoxCeleb2Importer.Import(root, text, scores, out, options -2.0)
                let data = KaldiDataDir.Load out
                data.Validate()

                Expect.equal
                    (data.Utterances |> Seq.map _.Id |> List.ofSeq)
                    [ "id00001-a-b_c-00001"; "id00001-xyz-00001"; "id00002--Q_-9-00001" ]
                    "kept: score >= threshold, with mp4, transcript and score"

                let u = data.Utterances[2]
                Expect.equal u.Speaker "id00002" "speaker from the path"
                Expect.equal u.WavPath (Path.Combine(root, "dev/aac/id00002/-Q_-9/00001.m4a")) "wav.scp -> m4a"
                Expect.equal u.VideoPath (Path.Combine(root, "dev/mp4/id00002/-Q_-9/00001.mp4")) "video.scp -> mp4"
                Expect.equal u.Transcript "dash first" "transcript"
                Expect.equal (List.ofSeq data.Speakers) [ "id00001"; "id00002" ] "speakers"

                let counts =
                    [
                        r.Found, 8
                        r.VideoFound, 8
                        r.WithTranscript, 7
                        r.WithScore, 7
                        r.MissingMp4, 1
                        r.MissingTranscript, 1
                        r.EmptyTranscript, 1
                        r.MissingScore, 1
                        r.BelowThreshold, 1
                        r.VideoWithoutAudio, 1
                        r.TranscriptsWithoutAudio, 1
                        r.ScoresWithoutAudio, 0
                        r.Kept, 3
                        r.Speakers, 2
                    ]

                Expect.equal (counts |> List.map fst) (counts |> List.map snd) "counts"
                Expect.equal (List.ofSeq r.Examples["belowThreshold"]) [ "id00001-a-b_c-00002" ] "example id"
                Expect.equal (List.ofSeq r.Examples["missingMp4"]) [ "id00001-xyz-00002" ] "example id"

                use json =
                    JsonDocument.Parse(File.ReadAllText(Path.Combine(out, "import_report.json")))

                Expect.equal (json.RootElement.GetProperty("kept").GetInt32()) 3 "report file"
                Expect.equal (json.RootElement.GetProperty("missingTranscript").GetInt32()) 1 "report file"

                Expect.equal
                    (json.RootElement.GetProperty("examples").GetProperty("missingScore").[0].GetString())
                    "id00003-m-00001"
                    "report examples"
            }

            test "without SkipBadInputs bad clips are an error naming them and their files, and nothing is written" {
                use d = new TempDir()
                let root, text, scores = writeTree d clips
                let out = d.Sub "strict"

                let message =
                    messageOf<InvalidDataException>(fun () ->
                        VoxCeleb2Importer.Import(root, text, scores, out, VoxCeleb2ImportOptions(Threshold = -2.0))
                        |> ignore)

                contains
                    message
                    [
                        "4 clip(s) with bad input"
                        "'id00001-xyz-00002'"
                        Path.Combine(root, "dev/aac/id00001/xyz/00002.m4a")
                        "'id00002--Q_-9-00002'"
                        "no transcript line"
                        "'id00002-k-00003'"
                        "empty transcript"
                        "'id00003-m-00001'"
                        scores
                        "--skip-bad"
                    ]

                Expect.isFalse (Directory.Exists out) "no data dir"
            }

            test "with SkipBadInputs every bad clip is listed once with its file and reason; the filters' drops are not" {
                use d = new TempDir()
                let root, text, scores = writeTree d clips
                let r = VoxCeleb2Importer.Import(root, text, scores, d.Sub "out", options -2.0)

                Expect.equal
                    [ for b in r.BadInputs -> b.Id, b.File, b.Reason ]
                    [
                        "id00001-xyz-00002",
                        Path.Combine(root, "dev/aac/id00001/xyz/00002.m4a"),
                        $"""no video: expected {Path.Combine(root, "dev/mp4/id00001/xyz/00002.mp4")}"""
                        "id00002--Q_-9-00002", Path.GetFullPath text, "no transcript line"
                        "id00002-k-00003", Path.GetFullPath text, "empty transcript"
                        "id00003-m-00001", Path.GetFullPath scores, "no score line"
                    ]
                    "bad inputs, by id"

                let report = SkipReport "voxceleb import"
                r.BadInputs |> Seq.iter report.Add
                let path = Path.Combine(d.Sub "reports", "skipped.json")
                report.Save path
                use json = JsonDocument.Parse(File.ReadAllText path)
                Expect.equal (json.RootElement.GetProperty("skipped").GetInt32()) 4 "count in the file"
                Expect.equal (json.RootElement.GetProperty("byStage").GetProperty("voxceleb import").GetInt32()) 4 "by stage"
                Expect.equal (json.RootElement.GetProperty("items").[3].GetProperty("file").GetString()) (Path.GetFullPath scores) "file"
                Expect.equal (Directory.GetFiles(Path.GetDirectoryName path).Length) 1 "no temporary file"
                Expect.stringContains (report.Summary path) "skipped 4 bad item(s): 4 voxceleb import" "console line"
            }

            test "voxceleb import: bad clips stop it; --skip-bad imports the rest and lists them in the report" {
                use d = new TempDir()
                let root, text, scores = writeTree d clips
                let out = d.Sub "cli"

                let args =
                    [|
                        "import"
                        "--root"
                        root
                        "--text"
                        text
                        "--scores"
                        scores
                        "--threshold"
                        "-2.0"
                        "--out"
                        out
                    |]

                Expect.throwsC (fun () -> Research.Commands.VoxCeleb.main args |> ignore) (fun e ->
                    Expect.stringContains e.Message "--skip-bad" "how to skip")

                Expect.isFalse (Directory.Exists out) "no data dir"
                let report = d.Sub "reports/skipped.json"
                Expect.equal (Research.Commands.VoxCeleb.main (Array.append args [| "--skip-bad"; report |])) 0 "exit code"
                use json = JsonDocument.Parse(File.ReadAllText report)
                Expect.equal (json.RootElement.GetProperty("skipped").GetInt32()) 4 "the four bad clips"
                Expect.equal (KaldiDataDir.Load out).Utterances.Count 3 "the kept utterances"
            }

            test "a higher threshold keeps fewer; the utterance id is the path's parts joined by '-'" {
                use d = new TempDir()
                let root, text, scores = writeTree d clips
                let r = VoxCeleb2Importer.Import(root, text, scores, d.Sub "out", options -0.75)
                Expect.equal (r.Kept, r.BelowThreshold) (1, 3) "kept / below"
                Expect.equal (VoxCeleb2Importer.UtteranceId("id00002", "-Q_-9", "00001")) "id00002--Q_-9-00001" "id"
            }

            test "the per-speaker cap is deterministic for a seed, and the minimum drops small speakers" {
                use d = new TempDir()

                let many =
                    [ for i in 1..6 -> "id00001", "v", $"{i:D5}", true, Some "words", Some 0.0 ]
                    @ [ "id00002", "w", "00001", true, Some "words", Some 0.0 ]

                let root, text, scores = writeTree d many

                let run seed out =
                    VoxCeleb2Importer.Import(
                        root,
                        text,
                        scores,
                        d.Sub out,
                        VoxCeleb2ImportOptions(Threshold = -1.0, MaxPerSpeaker = 4, MinPerSpeaker = 2, Seed = seed)
                    )

                let r = run 0 "a"
                Expect.equal (r.Kept, r.OverSpeakerCap, r.SpeakerBelowMinimum, r.SpeakersBelowMinimum) (4, 2, 1, 1) "counts"

                let ids out =
                    KaldiDataDir.Load(d.Sub out).Utterances |> Seq.map _.Id |> List.ofSeq

                run 0 "b" |> ignore
                Expect.equal (ids "a") (ids "b") "same seed, same choice"
                Expect.isTrue (ids "a" |> List.forall (fun id -> id.StartsWith "id00001")) "the small speaker is gone"

                let choices =
                    [
                        for seed in 1..5 ->
                            run seed "c" |> ignore
                            ids "c"
                    ]

                Expect.isGreaterThan (List.distinct (ids "a" :: choices)).Length 1 "seeds change the choice"
            }

            test "a malformed score line is an error naming the file and line" {
                use d = new TempDir()
                let root, text, _ = writeTree d clips

                let scores =
                    d.Write("bad-scores", [ "id00001-a-b_c-00001 -1.0"; "id00001-xyz-00001 high" ])

                let m =
                    messageOf<InvalidDataException>(fun () ->
                        VoxCeleb2Importer.Import(root, text, scores, d.Sub "out", options 0.0) |> ignore)

                contains m [ scores + ":2"; "expected 'utt score' with one number" ]
            }

            test "nothing kept, or no audio found, is an error and writes no data dir" {
                use d = new TempDir()
                let root, text, scores = writeTree d clips
                let out = d.Sub "out"

                let m =
                    messageOf<InvalidDataException>(fun () -> VoxCeleb2Importer.Import(root, text, scores, out, options 10.0) |> ignore)

                contains m [ "no utterance kept"; "below threshold 4" ]
                Expect.isFalse (Directory.Exists out) "no data dir"
                Expect.equal (siblingsOf out) [] "nothing beside it"
                let empty = d.Sub "empty"
                Directory.CreateDirectory empty |> ignore

                let m =
                    messageOf<InvalidDataException>(fun () -> VoxCeleb2Importer.Import(empty, text, scores, out, options 0.0) |> ignore)

                contains m [ "no audio clips"; "aac" ]
            }
        ]
