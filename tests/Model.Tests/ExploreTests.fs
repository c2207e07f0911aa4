module Research.Model.Tests.ExploreTests

open System
open System.Diagnostics
open System.IO
open Expecto
open TorchSharp
open Research.Model
open Research.Model.Data
open Research.Model.Tests.Fixtures
open Research.Model.Tests.DataFixtures
open Research.Model.Tests.EmbeddingFixtures
open Research.Model.Models
open Research.Model.Modules
open Research.Model.Text
open Research.Experiments

let private lengths = [ (6, 4, 3); (4, 5, 2); (7, 3, 4) ]

/// A Kaldi data dir next to a store of the items, as the demo lays them out (data/ and features/).
let private kaldiWithStore (d: TempDir) (transcripts: string list) =
    let items = storeItems 9 tiny lengths
    buildStore (d.Sub "corpus/features") items |> ignore

    let ids = items |> List.map _.Id

    d.Write("corpus/data/wav.scp", ids |> List.map (fun id -> $"{id} {id}.wav"))
    |> ignore

    d.Write("corpus/data/utt2spk", ids |> List.mapi (fun i id -> $"{id} spk{i % 2}"))
    |> ignore

    d.Write("corpus/data/text", List.map2 (fun id t -> $"{id} {t}") ids transcripts)
    |> ignore

    Embed.resolveData (d.Sub "corpus/data")

[<Tests>]
let tests =
    testSequenced
    <| testList
        "Explore"
        [
            test "dominant emotion, evenly spaced subsets" {
                Expect.equal (Explore.dominantEmotion [| 0f; 0f; 0f; 0f; 0f; 0f |]) "none" "none present"
                Expect.equal (Explore.dominantEmotion [| 0.3f; 2f; 1f; 0f; 0f; 0f |]) "sad" "highest intensity"
                Expect.equal (Explore.spread 10 4) [| 0; 2; 5; 7 |] "spread"
                Expect.equal (Explore.spread 3 5) [| 0; 1; 2 |] "all when few"
            }

            test "words come from the Kaldi transcripts when they match the text rows; speakers from utt2spk" {
                use d = new TempDir()
                // text rows are 3, 2, 4: the first two transcripts fit, the third does not
                let data = kaldiWithStore d [ "Rosa kept it"; "we're"; "one two three" ]
                use store = FeatureStore.Open(snd data.Stores.Head)
                Expect.equal (Explore.words data store 0) (Some [| "rosa"; "kept"; "it" |]) "lower-cased tokens"
                Expect.equal (Explore.words data store 1) (Some [| "we"; "'re" |]) "GloVe's tokenisation"
                Expect.isNone (Explore.words data store 2) "3 tokens for 4 rows: no labels"
                Expect.equal (Explore.speakerLabels data store) ("speaker", [| "spk0"; "spk1"; "spk0" |]) "utt2spk"
            }

            test "speakers of emotion segments: the demo's ids name them, other ids only videos; emotions from labels" {
                use d = new TempDir()

                let items ids =
                    storeItems 9 tiny lengths
                    |> List.mapi (fun i it ->
                        { it with
                            Id = List.item i ids
                            Features =
                                readOnlyDict
                                    [
                                        yield! it.Features |> Seq.map (fun kv -> kv.Key, kv.Value)
                                        CorpusFeatures.Labels, array2D [ [ 0f; 0f; float32 i; 0f; 0f; 0f ] ]
                                    ]
                        })

                let demo =
                    buildStore (d.Sub "demo") (items [ "em0001_v0[0]"; "em0001_v1[2]"; "em0002_v0[1]" ])

                let mosei =
                    buildStore (d.Sub "mosei") (items [ "-3g5yACwYnA[0]"; "-3g5yACwYnA[1]"; "zk2jTlAtvSU[0]" ])

                use s1 = FeatureStore.Open demo
                use s2 = FeatureStore.Open mosei

                Expect.equal
                    (Explore.speakerLabels (Embed.resolveData demo) s1)
                    ("speaker", [| "em0001"; "em0001"; "em0002" |])
                    "demo speakers"

                Expect.equal
                    (Explore.speakerLabels (Embed.resolveData mosei) s2)
                    ("video", [| "-3g5yACwYnA"; "-3g5yACwYnA"; "zk2jTlAtvSU" |])
                    "videos"

                Expect.equal (Explore.emotionLabels s1) (Some [| "none"; "anger"; "anger" |]) "dominant emotions"
            }

            test "an item's attention is the head mean of the encoder's maps, every layer, cropped to the item" {
                use d = new TempDir()
                let data = kaldiWithStore d [ "a b c"; "a b"; "a b c d" ]
                use store = FeatureStore.Open(snd data.Stores.Head)
                use m = model 4L tiny
                let a = Explore.attention m data store 2
                let x = (examples 9 tiny lengths)[2]
                use _ = torch.NewDisposeScope()

                let maps =
                    m.Encoder.AttentionMaps(
                        EncoderInput(Sequence.FromArrays [| x.Audio |], Sequence.FromArrays [| x.Video |], Sequence.FromArrays [| x.Text |])
                    )

                Expect.equal a.Video.Value.Length tiny.CrossModalLayers "every layer"
                Expect.equal a.Words (Some [| "a"; "b"; "c"; "d" |]) "words"

                for l in 0 .. tiny.CrossModalLayers - 1 do
                    let expected = maps.Text[l].mean([| 1L |]).squeeze 0 |> Tensors.values
                    let got = a.Text.Value[l]
                    Expect.equal (got.GetLength 0, got.GetLength 1) (7, 4) "audio steps × words"

                    let diff =
                        Seq.init 28 (fun k -> abs (got[k / 4, k % 4] - float expected[k])) |> Seq.max

                    Expect.isLessThan diff 1e-6 $"layer {l}"
            }

            test "scripts/explore.fsx runs top to bottom on the tiny demo corpus and writes its charts" {
                // The shared tiny corpus is only read: its stores are built here, in a folder of this test.
                let folder, _ = Demo.DemoCorpusTests.tinyCorpus ()
                let emotion = Path.Combine(folder, "emotion")
                use d = new TempDir()
                let stores = d.Sub "emotion-stores"

                CorpusFeatures.BuildEmotion(emotion, Path.Combine(emotion, "folds.json"), Demo.DemoCorpusTests.demoOptions, stores)
                |> ignore


                let demoSized =
                    ModelConfig(
                        AudioDim = 200,
                        VideoDim = 1024,
                        TextDim = 300,
                        DModel = 16,
                        Heads = 2,
                        FeedForward = 20,
                        AudioLayers = 1,
                        CrossModalLayers = 1,
                        DecoderLayers = 1,
                        Speakers = 3,
                        Dropout = 0.0
                    )

                let run = pretrainingRun (d.Sub "run") 2L demoSized
                let out = d.Sub "charts"
                let root = ReferenceFiles.root.Value

                let info =
                    ProcessStartInfo(
                        "dotnet",
                        [
                            "fsi"
                            Path.Combine(root, "scripts", "explore.fsx")
                            "--"
                            "--checkpoint"
                            run
                            "--data"
                            stores
                            "--out"
                            out
                            "--items"
                            "2"
                            "--png"
                            "false"
                            "--threads"
                            "1"
                        ],
                        RedirectStandardOutput = true,
                        RedirectStandardError = true,
                        WorkingDirectory = root
                    )

                info.Environment["RESEARCH_NO_BUILD"] <- "1"
                let clock = Stopwatch.StartNew()
                use p = Process.Start info
                let stdout = p.StandardOutput.ReadToEndAsync()
                let stderr = p.StandardError.ReadToEndAsync()

                if not (p.WaitForExit 180000) then
                    p.Kill true
                    failtest "explore.fsx did not finish in 180 s"

                printfn "explore.fsx ran in %.1f s (load average %.2f)" clock.Elapsed.TotalSeconds (Machine.loadAverage ())
                Expect.equal p.ExitCode 0 $"exit code; stdout:\n{stdout.Result}\nstderr:\n{stderr.Result}"
                Expect.stringContains stdout.Result "explore: 4 attention maps and 2 projections" "summary line"

                let html =
                    Directory.GetFiles(out, "*.html") |> Array.map Path.GetFileName |> Array.sort

                Expect.equal html.Length 6 $"2 items × video/text + 2 projections: {String.Join(',', html)}"
                Expect.contains html "embeddings-by-emotion.html" "emotion projection"
                Expect.contains html "embeddings-by-speaker.html" "speaker projection"
            }
        ]
