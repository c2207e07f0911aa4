/// Embedding-extraction throughput: the joint encoder's forward pass (eval mode, no gradients) and the mean of the
/// fused sequence over valid audio frames, for each modality subset the paper ablates at inference (A, A+V, A+T,
/// A+V+T; a modality off has weight 0, so its branch is not run and its input is absent), on the demo-sized and the
/// paper-sized encoder. Reported as × real time: seconds of audio represented / seconds of compute, where one stacked
/// audio step is 50 ms (5 frames of 10 ms).
module Research.Benchmarks.BenchInference

open System
open System.Diagnostics
open System.IO
open System.Text.Json.Nodes
open TorchSharp
open Research.Model
open Research.Model.Data
open Research.Model.Embeddings
open Research.Model.Models
open Research.Model.Modules
open Research.Model.Training
open Research.Benchmarks.BenchStats

/// Seconds of audio one stacked step represents: 5 frames of 10 ms.
let secondsPerAudioStep = 0.05

/// The subsets, named as the paper names them; weights are equal over the modalities that are on.
let subsets =
    [
        "A", (true, false, false)
        "A+V", (true, true, false)
        "A+T", (true, false, true)
        "A+V+T", (true, true, true)
    ]

let private weightsOf (_, video, text) =
    let n = 1 + (if video then 1 else 0) + (if text then 1 else 0)
    let w = 1.0 / float n
    ModalityWeights(w, (if video then w else 0.0), (if text then w else 0.0))

/// How many repetitions to time.
type Timing = { Warmup: int; Repeats: int }

/// Measures one encoder size over every subset; returns its JSON record and prints one line per subset.
let measure (name: string) (config: ModelConfig) (shape: BatchShape) (timing: Timing) (seed: int) =
    use scope = torch.NewDisposeScope()
    torch.manual_seed (int64 seed) |> ignore
    // Every branch built (weights all positive); a subset is chosen by the weights, as the paper's ablations are.
    let built =
        BenchReference.withWeights config.Tasks (ModalityWeights(1.0, 1.0, 1.0)) config

    use encoder = new MultimodalEncoder("encoder", built)
    encoder.eval ()

    let struct (input, _) = SyntheticBatch.Create(built, shape, seed, torch.CPU)

    let validSteps =
        SyntheticBatch.ItemLengths(shape.Batch, shape.AudioSteps) |> Array.sum

    let audioSeconds = float validSteps * secondsPerAudioStep

    let records =
        [
            for subset, flags in subsets ->
                let _, video, text = flags
                encoder.Weights <- weightsOf flags

                let subsetInput =
                    EncoderInput(input.Audio, (if video then input.Video else null), (if text then input.Text else null))

                let flops =
                    Flops.MultiTask(BenchReference.withWeights TaskWeights.EmotionOnly (weightsOf flags) built, shape).Parts
                    |> Seq.filter (fun p -> p.Name.Contains "encoder" || p.Name.Contains "transformer")
                    |> Seq.sumBy (fun p -> p.Forward)

                let run () =
                    use _ = torch.no_grad ()
                    use _ = torch.NewDisposeScope()
                    let clock = Stopwatch.StartNew()
                    let out = encoder.forward subsetInput
                    let embeddings = Pooling.MaskedMean(out.Fused, out.Padding) // (B, D)
                    let seconds = clock.Elapsed.TotalSeconds

                    if embeddings.shape[0] <> int64 shape.Batch then
                        failwithf "%s %s: %d embeddings for %d items" name subset embeddings.shape[0] shape.Batch

                    seconds

                for _ in 1 .. timing.Warmup do
                    run () |> ignore

                let seconds, load = underLoad (fun () -> List.init timing.Repeats (fun _ -> run ()))

                let realTime = seconds |> List.map (fun s -> audioSeconds / s)
                let gflops = seconds |> List.map (fun s -> float flops / s / 1e9)
                let s = spread $"inference {name} {subset}" realTime

                printfn
                    "  %-5s %-6s %6.0fx real time (IQR %.0f-%.0f, min %.0f, max %.0f), %5.1f ms per batch, %.0f GFLOP/s"
                    name
                    subset
                    s.Median
                    s.Q1
                    s.Q3
                    s.Min
                    s.Max
                    (1000.0 * audioSeconds / s.Median)
                    (spread "GFLOP/s" gflops).Median

                JsonObject(
                    dict
                        [
                            "subset", JsonValue.Create subset :> JsonNode
                            "modality_weights", JsonValue.Create $"{weightsOf flags}"
                            "forward_flops", JsonValue.Create flops
                            "x_real_time", sampleJson $"inference {name} {subset}" realTime
                            "ms_per_batch", sampleJson "ms" (seconds |> List.map (fun x -> 1000.0 * x))
                            "achieved_gflops", sampleJson "GFLOP/s" gflops
                            "load", loadJson load
                        ]
                )
        ]

    JsonObject(
        dict
            [
                "config", JsonValue.Create name :> JsonNode
                "d_model", JsonValue.Create config.DModel
                "layers_audio_crossmodal", JsonValue.Create $"{config.AudioLayers}/{config.CrossModalLayers}"
                "inputs", JsonValue.Create $"{config.AudioDim}/{config.VideoDim}/{config.TextDim}"
                "batch", JsonValue.Create shape.Batch
                "audio_steps", JsonValue.Create shape.AudioSteps
                "video_frames", JsonValue.Create shape.VideoFrames
                "words", JsonValue.Create shape.Words
                "audio_seconds_per_batch", JsonValue.Create audioSeconds
                "subsets", JsonArray(records |> List.map (fun r -> r :> JsonNode) |> Array.ofList)
            ]
    )

/// Synthetic store items of the config's feature sizes, with utterance lengths spread like short segments (audio
/// 20–120 stacked steps = 1–6 s; video one frame per 2 steps; one word per 6 steps), seeded.
let private storeItems (config: ModelConfig) (count: int) (seed: int) =
    let rng = Random seed

    let matrix rows cols =
        Array2D.init rows cols (fun _ _ -> float32 (rng.NextDouble() * 2.0 - 1.0))

    [|
        for i in 1..count ->
            let steps = rng.Next(20, 121)

            $"item{i:D5}",
            readOnlyDict
                [
                    CorpusFeatures.Audio, matrix steps config.AudioDim
                    CorpusFeatures.Video, matrix (max 1 (steps / 2)) config.VideoDim
                    CorpusFeatures.Text, matrix (max 1 (steps / 6)) config.TextDim
                ]
    |]

/// Extraction over a whole store as `embed.fsx` does it (store → length-sorted batches → encoder → mean over valid
/// frames), all three modalities at the configured weights: items/s and × real time at each batch size, the
/// reading of the store included.
let measureStore (name: string) (config: ModelConfig) (count: int) (batches: int list) (repeats: int) (seed: int) =
    let dir = Directory.CreateTempSubdirectory("bench-store-")

    try
        let items = storeItems config count seed

        FeatureCache.Build(dir.FullName, items, fst, fst, snd) |> ignore

        use store = FeatureStore.Open dir.FullName
        let positions = [| 0 .. store.Count - 1 |]

        let audioSeconds =
            float (EmbeddingExtractor.AudioSteps(store, positions)) * secondsPerAudioStep

        torch.manual_seed (int64 seed) |> ignore
        use encoder = new MultimodalEncoder("encoder", config)

        let records =
            [
                for batch in batches ->
                    let options = EmbeddingOptions(BatchSize = batch)

                    let run () =
                        let clock = Stopwatch.StartNew()
                        let n = EmbeddingExtractor.Embed(encoder, store, positions, options) |> Seq.length
                        let seconds = clock.Elapsed.TotalSeconds

                        if n <> count then
                            failwithf "store %s: %d embeddings for %d items" name n count

                        seconds

                    run () |> ignore // warm-up
                    let seconds, load = underLoad (fun () -> List.init repeats (fun _ -> run ()))
                    let itemsPerSecond = seconds |> List.map (fun s -> float count / s)
                    let realTime = seconds |> List.map (fun s -> audioSeconds / s)
                    let s = spread $"store {name} batch {batch}" itemsPerSecond

                    printfn
                        "  %-5s whole store, batch %2d: %7.1f items/s (IQR %.1f-%.1f), %6.0fx real time"
                        name
                        batch
                        s.Median
                        s.Q1
                        s.Q3
                        (spread "x real time" realTime).Median

                    JsonObject(
                        dict
                            [
                                "batch", JsonValue.Create batch :> JsonNode
                                "items_per_s", sampleJson $"store {name} batch {batch}" itemsPerSecond
                                "x_real_time", sampleJson $"store {name} batch {batch} x real time" realTime
                                "load", loadJson load
                            ]
                    )
            ]

        JsonObject(
            dict
                [
                    "config", JsonValue.Create name :> JsonNode
                    "items", JsonValue.Create count
                    "audio_seconds", JsonValue.Create audioSeconds
                    "modality_weights",
                    JsonValue.Create $"audio {config.Modalities.Audio}, video {config.Modalities.Video}, text {config.Modalities.Text}"
                    "batches", JsonArray(records |> List.map (fun r -> r :> JsonNode) |> Array.ofList)
                ]
        )
    finally
        dir.Delete true
