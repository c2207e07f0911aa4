module Research.Model.Tests.EmbeddingTests

open System
open System.Diagnostics
open System.IO
open DuckDB.NET.Data
open Expecto
open TorchSharp
open Research.Model
open Research.Model.Data
open Research.Model.Embeddings
open Research.Model.Tests.Fixtures
open Research.Model.Tests.DataFixtures
open Research.Model.Tests.EmbeddingFixtures
open Research.Model.Models
open Research.Model.Training
open Research.Experiments

/// Audio lengths differ a lot so that batching pads most items.
let private lengths =
    [ (3, 4, 2); (11, 9, 6); (5, 2, 3); (8, 7, 1); (2, 3, 4); (9, 5, 5) ]

let private request checkpoint data out =
    { Embed.defaults with
        Checkpoint = checkpoint
        Data = data
        Out = out
        BatchSize = 4
        Threads = 1
    }

/// Runs /usr/bin/python3 with a program; None when it (or a module it imports) is missing.
let private python (program: string) =
    if not (File.Exists "/usr/bin/python3") then
        None
    else
        let info =
            ProcessStartInfo("/usr/bin/python3", [ "-c"; program ], RedirectStandardOutput = true, RedirectStandardError = true)

        use p = Process.Start info
        let out = p.StandardOutput.ReadToEnd()
        let err = p.StandardError.ReadToEnd()
        p.WaitForExit()

        if p.ExitCode = 0 then Some(out.Trim())
        elif err.Contains "ModuleNotFoundError" then None
        else failtestf "python failed: %s" err

/// A Parquet file as DuckDB's own (C++) reader sees it: column names and types, every row in file order, and the
/// footer's key-value metadata. Independent of Parquet.Net, which writes our files.
type private DuckDbView =
    {
        Columns: (string * string) list
        Rows: obj array list
        Metadata: Map<string, string>
    }

let private duckDbRead (file: string) : DuckDbView =
    use connection = new DuckDBConnection("Data Source=:memory:")
    connection.Open()

    let query (sql: string) (f: Data.Common.DbDataReader -> 'T) =
        use command = connection.CreateCommand()
        command.CommandText <- sql
        use reader = command.ExecuteReader()

        [
            while reader.Read() do
                f reader
        ]

    let source = "'" + file.Replace("'", "''") + "'"

    {
        Columns = query $"DESCRIBE SELECT * FROM read_parquet({source})" (fun r -> r.GetString 0, r.GetString 1)
        Rows =
            query
                $"SELECT * EXCLUDE (file_row_number) FROM read_parquet({source}, file_row_number = true) ORDER BY file_row_number"
                (fun r -> Array.init r.FieldCount r.GetValue)
        Metadata =
            query $"SELECT decode(key), decode(value) FROM parquet_kv_metadata({source})" (fun r -> r.GetString 0, r.GetString 1)
            |> Map.ofList
    }

[<Tests>]
let tests =
    testSequenced
    <| testList
        "Embeddings"
        [
            test "an item's embedding is the mean of its fused output alone, whatever it is batched with" {
                use d = new TempDir()
                let store = buildStore (d.Sub "store") (storeItems 7 tiny lengths)
                let xs = examples 7 tiny lengths
                use m = model 3L tiny
                use s = FeatureStore.Open store
                let items = [| 0 .. s.Count - 1 |]

                let embed batch frames =
                    EmbeddingExtractor.Embed(m.Encoder, s, items, EmbeddingOptions(BatchSize = batch, Window = 6, Frames = frames))
                    |> Array.ofSeq

                let alone = embed 1 true
                let batched = embed 4 true
                Expect.equal [ for e in batched -> e.Id ] [ for i in items -> s.Ids[i] ] "store order"

                for i in items do
                    let direct = directEmbedding m xs[i] true true
                    Expect.isLessThan (maxDiff (Array.map float batched[i].Mean) direct) 1e-5 $"item {i}: batched = direct"
                    Expect.isLessThan (maxDiff (Array.map float alone[i].Mean) direct) 1e-5 $"item {i}: alone = direct"
                    let (a, _, _) = lengths[i]
                    Expect.equal (batched[i].Frames.GetLength 0) a $"item {i}: one frame per valid audio step"
                    Expect.isLessThan (maxDiff (rowMean batched[i].Frames) direct) 1e-5 $"item {i}: mean of frames"
            }

            test "the encoder is back in its previous mode afterwards" {
                use d = new TempDir()
                let store = buildStore (d.Sub "store") (storeItems 7 tiny lengths)
                use m = model 3L tiny
                m.train ()
                use s = FeatureStore.Open store
                EmbeddingExtractor.Embed(m.Encoder, s, [| 0; 1 |]) |> Seq.iter ignore
                Expect.isTrue m.Encoder.training "training again"
            }

            test "embed writes .npy, ids and Parquet that read back equal, in store order, with their provenance" {
                use d = new TempDir()
                let store = buildStore (d.Sub "store") (storeItems 7 tiny lengths)
                let run = pretrainingRun (d.Sub "run") 3L tiny
                let out = d.Sub "out/emb"
                let summary = Embed.run (request run store out)
                let npy = EmbeddingFiles.readNpy out
                let pq = EmbeddingFiles.readParquet out
                use s = FeatureStore.Open store
                Expect.equal npy.Ids (Array.ofSeq s.Ids) "ids in store order"
                Expect.equal pq.Ids npy.Ids "parquet ids"
                Expect.equal (npy.Values.GetLength 0, npy.Values.GetLength 1) (6, tiny.DModel) "n × d"
                Expect.equal pq.Values npy.Values "parquet values = npy values"
                Expect.isNone npy.Offsets "no offsets for utterance embeddings"
                Expect.isNone pq.Frames "no frame column"
                Expect.equal pq.Metadata["layout"] "utterances" "metadata"
                Expect.equal summary.Weights (ModalityWeights(0.4, 0.4, 0.2)) "the model's weights"
                Expect.isTrue (File.Exists(d.Sub "out/emb.json")) "provenance JSON"
                use m = model 3L tiny
                let xs = examples 7 tiny lengths

                for i in 0..5 do
                    Expect.isLessThan (maxDiff (row npy.Values i) (directEmbedding m xs[i] true true)) 1e-5 $"item {i}"

                Expect.isEmpty (Directory.GetFiles(d.Sub "out") |> Array.filter (fun f -> f.EndsWith ".tmp")) "no temporary files"
            }

            test "numpy reads the .npy" {
                use d = new TempDir()
                let store = buildStore (d.Sub "store") (storeItems 7 tiny lengths)
                let run = pretrainingRun (d.Sub "run") 3L tiny
                let out = d.Sub "emb"
                Embed.run (request run store out) |> ignore
                let total = Seq.cast<float32> (EmbeddingFiles.readNpy out).Values |> Seq.sumBy float

                match
                    python
                        $"import numpy as np; a = np.load('{out}.npy'); print(a.shape[0], a.shape[1], repr(float(a.astype('f8').sum())), a.dtype)"
                with
                | None ->
                    skiptest
                        "numpy is not installed for /usr/bin/python3 (apt-get install python3-numpy; scripts/test.fsx installs it as root)"
                | Some text ->
                    let parts = text.Split ' '
                    Expect.equal (int parts[0], int parts[1]) (6, tiny.DModel) "numpy shape"
                    Expect.floatClose Accuracy.high (float parts[2]) total "numpy sum"
                    Expect.equal parts[3] "float32" "dtype"
            }

            test "DuckDB's own Parquet reader (not Parquet.Net, our writer) reads both layouts: schema, ids, values, metadata" {
                use d = new TempDir()
                let store = buildStore (d.Sub "store") (storeItems 7 tiny lengths)
                let run = pretrainingRun (d.Sub "run") 3L tiny
                Embed.run (request run store (d.Sub "utt")) |> ignore

                Embed.run
                    { request run store (d.Sub "frames") with
                        Frames = true
                    }
                |> ignore

                let values = [ for j in 0 .. tiny.DModel - 1 -> $"e{j}", "FLOAT" ]
                let utt = EmbeddingFiles.readNpy (d.Sub "utt")
                let view = duckDbRead (d.Sub "utt.parquet")
                Expect.equal view.Columns (("id", "VARCHAR") :: values) "utterances: id, e0 … e{d-1}"
                Expect.equal [ for r in view.Rows -> r[0] :?> string ] (List.ofArray utt.Ids) "ids in store order"
                Expect.equal (Array2D.init 6 tiny.DModel (fun i j -> view.Rows[i][1 + j] :?> float32)) utt.Values "values = .npy"
                Expect.equal (view.Metadata.TryFind "layout") (Some "utterances") "footer metadata"

                let frames = EmbeddingFiles.readNpy (d.Sub "frames")
                let offsets = frames.Offsets.Value
                let view = duckDbRead (d.Sub "frames.parquet")
                Expect.equal view.Columns (("id", "VARCHAR") :: ("frame", "INTEGER") :: values) "frames: id, frame, e0 …"
                Expect.equal view.Rows.Length 38 "one row per audio frame"

                let expected =
                    [
                        for i in 0..5 do
                            for t in 0 .. int (offsets[i + 1] - offsets[i]) - 1 -> utt.Ids[i], t
                    ]

                Expect.equal [ for r in view.Rows -> r[0] :?> string, r[1] :?> int ] expected "id and frame index per row"
                Expect.equal (Array2D.init 38 tiny.DModel (fun i j -> view.Rows[i][2 + j] :?> float32)) frames.Values "values = .npy"
                Expect.equal (view.Metadata.TryFind "layout") (Some "frames") "footer metadata"
            }

            test "frame-level output: offsets delimit each item's frames, whose mean is its utterance embedding" {
                use d = new TempDir()
                let store = buildStore (d.Sub "store") (storeItems 7 tiny lengths)
                let run = pretrainingRun (d.Sub "run") 3L tiny
                Embed.run (request run store (d.Sub "utt")) |> ignore

                Embed.run
                    { request run store (d.Sub "frames") with
                        Frames = true
                    }
                |> ignore

                let utt = EmbeddingFiles.readNpy (d.Sub "utt")
                let frames = EmbeddingFiles.readNpy (d.Sub "frames")
                let pq = EmbeddingFiles.readParquet (d.Sub "frames")
                let offsets = frames.Offsets.Value
                Expect.equal offsets [| 0L; 3L; 14L; 19L; 27L; 29L; 38L |] "cumulative audio lengths"
                Expect.equal pq.Values frames.Values "parquet = npy"

                for i in 0..5 do
                    let block =
                        Array2D.init (int (offsets[i + 1] - offsets[i])) tiny.DModel (fun t j -> frames.Values[int offsets[i] + t, j])

                    Expect.isLessThan (maxDiff (rowMean block) (row utt.Values i)) 1e-5 $"item {i}"

                    for t in int offsets[i] .. int offsets[i + 1] - 1 do
                        Expect.equal pq.Ids[t] utt.Ids[i] "parquet id per frame"
                        Expect.equal pq.Frames.Value[t] (t - int offsets[i]) "parquet frame index"
            }

            test "modality subsets change the embedding; audio only equals the model with video and text weights 0" {
                use d = new TempDir()
                let store = buildStore (d.Sub "store") (storeItems 7 tiny lengths)
                let run = pretrainingRun (d.Sub "run") 3L tiny

                let embed (modalities: string) =
                    let out = d.Sub $"emb-{modalities}"

                    let summary =
                        Embed.run
                            { request run store out with
                                Modalities = Some(Embed.parseModalities modalities)
                            }

                    summary.Weights, (EmbeddingFiles.readNpy out).Values

                let all = [ "A"; "A,V"; "A,T"; "A,V,T" ] |> List.map (fun m -> m, embed m)

                for (a, (_, x)) in all do
                    for (b, (_, y)) in all do
                        if a < b then
                            let diff =
                                Seq.map2 (fun p q -> abs (p - q)) (Seq.cast<float32> x) (Seq.cast<float32> y)
                                |> Seq.max

                            Expect.isGreaterThan diff 1e-3f $"{a} vs {b}"

                let weights, audioOnly = snd all.Head
                Expect.equal weights (ModalityWeights(0.4, 0.0, 0.0)) "audio weight kept, others 0, not rescaled"
                use m = model 3L tiny
                m.Encoder.Weights <- ModalityWeights(0.4, 0.0, 0.0)
                let xs = examples 7 tiny lengths

                for i in 0..5 do
                    Expect.isLessThan (maxDiff (row audioOnly i) (directEmbedding m xs[i] false false)) 1e-5 $"item {i}"
            }

            test "a modality absent from the data gets weight 0; an item missing a requested one is an error naming it" {
                use d = new TempDir()
                let items = storeItems 7 tiny lengths
                let full = buildStore (d.Sub "full") items
                let noVideo = buildStore (d.Sub "novideo") (keep [ "audio"; "text" ] items)
                let run = pretrainingRun (d.Sub "run") 3L tiny
                let s = Embed.run (request run noVideo (d.Sub "a"))
                Expect.equal s.Weights (ModalityWeights(0.4, 0.0, 0.2)) "video weight 0"

                Embed.run
                    { request run full (d.Sub "b") with
                        Modalities = Some(set [ "audio"; "text" ])
                    }
                |> ignore

                Expect.equal (EmbeddingFiles.readNpy (d.Sub "a")).Values (EmbeddingFiles.readNpy (d.Sub "b")).Values "same as A,T"

                let holes =
                    items
                    |> List.mapi (fun i it -> if i = 2 then (keep [ "audio"; "text" ] [ it ]).Head else it)

                let partial = buildStore (d.Sub "partial") holes

                let message =
                    messageOf<exn>(fun () -> Embed.run (request run partial (d.Sub "c")) |> ignore)

                contains message [ "utt02"; "'video'"; "partial" ]
                Expect.isFalse (File.Exists(d.Sub "c.npy")) "nothing written"

                Embed.run
                    { request run partial (d.Sub "c") with
                        Modalities = Some(set [ "audio"; "text" ])
                    }
                |> ignore

                let noAudio = buildStore (d.Sub "noaudio") (keep [ "video"; "text" ] items)
                contains (messageOf<exn>(fun () -> Embed.run (request run noAudio (d.Sub "e")) |> ignore)) [ "no audio"; "noaudio" ]

                contains
                    (messageOf<Errors.InvalidSetting>(fun () ->
                        Embed.run
                            { request run full (d.Sub "e") with
                                Modalities = Some(set [ "video" ])
                            }
                        |> ignore))
                    [ "must include audio" ]
            }

            test "an any-subset model embeds without audio: V+T and V from a store with no audio, as the encoder on null audio" {
                use d = new TempDir()
                let anySubset = tiny.WithAnySubset(true, 0.0)
                let items = storeItems 7 anySubset lengths
                let noAudio = buildStore (d.Sub "noaudio") (keep [ "video"; "text" ] items)
                let run = pretrainingRun (d.Sub "run") 3L anySubset
                use m = model 3L anySubset
                let xs = examples 7 anySubset lengths

                for modalities, weights, withText in
                    [
                        "V,T", ModalityWeights(0.0, 0.4, 0.2), true
                        "V", ModalityWeights(0.0, 0.4, 0.0), false
                    ] do
                    let out = d.Sub $"emb-{modalities}"

                    let summary =
                        Embed.run
                            { request run noAudio out with
                                Modalities = Some(Embed.parseModalities modalities)
                            }

                    Expect.equal summary.Weights weights $"{modalities}: audio weight 0, the others kept"
                    let values = (EmbeddingFiles.readNpy out).Values
                    m.Encoder.Weights <- weights

                    for i in 0..5 do
                        use _ = torch.NewDisposeScope()
                        use _ = torch.no_grad ()
                        let one (a: float32[,]) = Sequence.FromArrays [| a |]

                        let direct =
                            m.Encoder
                                .forward(EncoderInput(null, one xs[i].Video, (if withText then one xs[i].Text else null)))
                                .Fused.mean([| 1L |])
                                .squeeze
                                0
                            |> Tensors.values
                            |> Array.map float

                        Expect.isLessThan (maxDiff (row values i) direct) 1e-5 $"{modalities}: item {i} = the encoder on null audio"

                // The paper's encoder still refuses: it is queried by audio.
                let paperRun = pretrainingRun (d.Sub "paper") 3L tiny

                contains
                    (messageOf<Errors.InvalidSetting>(fun () ->
                        Embed.run
                            { request paperRun noAudio (d.Sub "p") with
                                Modalities = Some(set [ "video"; "text" ])
                            }
                        |> ignore))
                    [ "must include audio"; "any-subset" ]
            }

            test "checkpoints: a pre-training run, a file in it, an emotion run; a late-fusion run or another folder is refused" {
                use d = new TempDir()
                let store = buildStore (d.Sub "store") (storeItems 7 tiny lengths)
                let pre = pretrainingRun (d.Sub "pre") 3L tiny
                let c = Embed.resolveCheckpoint pre
                Expect.equal (c.Kind, c.Weights, c.IsTrainerCheckpoint) ("pre-training", Path.Combine(pre, "model.bin"), false) "folder"
                Expect.equal c.Config tiny "config read back"
                let byFile = Embed.resolveCheckpoint (Path.Combine(pre, "model.bin"))
                Expect.equal byFile.Weights c.Weights "a file inside"
                let emotion, config = emotionRun (d.Sub "emo") 5L
                let e = Embed.resolveCheckpoint emotion
                Expect.equal (e.Kind, Path.GetFileName e.Weights) ("emotion", "best.bin") "emotion run"
                Expect.equal e.Config config "the fine-tuning model's config"
                let s = Embed.run (request emotion store (d.Sub "emb"))
                Expect.equal s.Weights (ModalityWeights(1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0)) "fine-tuning weights"
                use m = model 5L config
                let xs = examples 7 tiny lengths
                let values = (EmbeddingFiles.readNpy (d.Sub "emb")).Values
                Expect.isLessThan (maxDiff (row values 1) (directEmbedding m xs[1] true true)) 1e-5 "emotion model's embedding"

                let lateFusion = d.Sub "late"
                Directory.CreateDirectory lateFusion |> ignore
                File.WriteAllText(Path.Combine(lateFusion, "config.json"), Config.toJson Config.demoLateFusion)
                contains (messageOf<exn>(fun () -> Embed.resolveCheckpoint lateFusion |> ignore)) [ "late-fusion"; "no fused encoder" ]
                contains (messageOf<exn>(fun () -> Embed.resolveCheckpoint store |> ignore)) [ "not a run folder"; "model-config.json" ]
                contains (messageOf<exn>(fun () -> Embed.resolveCheckpoint (d.Sub "nothing") |> ignore)) [ "no such file or folder" ]
            }

            test "data: a store, the emotion root (its splits in order), a Kaldi data dir (its store); ids unique across stores" {
                use d = new TempDir()
                let items = storeItems 7 tiny lengths
                let store = buildStore (d.Sub "store") items
                Expect.equal (Embed.resolveData store).Stores [ "store", store ] "a store"
                let root = d.Sub "emotion"

                let test =
                    buildStore (Path.Combine(root, "test")) (items |> List.map (fun i -> { i with Id = "t" + i.Id }))

                let train = buildStore (Path.Combine(root, "train")) items
                Expect.equal (Embed.resolveData root).Stores [ "train", train; "test", test ] "train before test"

                let kaldi =
                    d.Write("corpus/data/wav.scp", [ "utt00 a.wav" ]) |> Path.GetDirectoryName

                d.Write("corpus/data/utt2spk", [ "utt00 s" ]) |> ignore
                contains (messageOf<exn>(fun () -> Embed.resolveData kaldi |> ignore)) [ "no feature store"; "features" ]
                let paired = buildStore (d.Sub "corpus/features") items
                let r = Embed.resolveData kaldi
                Expect.equal (r.Stores, r.KaldiDir) ([ "features", paired ], Some kaldi) "its store"
                contains (messageOf<exn>(fun () -> Embed.resolveData (d.Sub "corpus") |> ignore)) [ "expected a feature store" ]
                let run = pretrainingRun (d.Sub "run") 3L tiny
                buildStore (Path.Combine(root, "valid")) items |> ignore
                contains (messageOf<exn>(fun () -> Embed.run (request run root (d.Sub "x")) |> ignore)) [ "utt00"; "unique" ]
            }

            test "an interrupted write leaves the earlier files of the stem as they were and no temporary files" {
                use d = new TempDir()
                let store = buildStore (d.Sub "store") (storeItems 7 tiny lengths)
                let run = pretrainingRun (d.Sub "run") 3L tiny
                let out = d.Sub "out/emb"

                Embed.run
                    { request run store out with
                        Frames = true
                    }
                |> ignore

                let before = File.ReadAllBytes(out + ".npy")

                do
                    use w = new EmbeddingFiles.Writer(out, tiny.DModel, 2, 2L, false, readOnlyDict [])

                    w.Add(ItemEmbedding(0, "x", Array.zeroCreate tiny.DModel, null))

                Expect.equal (File.ReadAllBytes(out + ".npy")) before "unchanged"
                Expect.isEmpty (Directory.GetFiles(d.Sub "out", ".*")) "no temporary files"
                Embed.run (request run store out) |> ignore
                Expect.isFalse (File.Exists(out + ".offsets.txt")) "an utterance run removes the frame offsets"
                Expect.isNone (EmbeddingFiles.readNpy out).Offsets "utterance layout"
            }
        ]
