/// Memory over a long training run: the demo-sized model trained for 2,000 steps on generated batches through
/// TrainStep, with one dispose scope per step and TrainStep's collection guard (a collection before every step),
/// as Trainer.Run does. Batch lengths cycle through four sizes (as length-bucketed batches do), so the allocator sees
/// varying shapes. Records the resident set size at regular steps, the peak, and the growth from step 200 to the end.
module Research.Benchmarks.BenchMemory

open System
open System.Diagnostics
open System.Text.Json.Nodes
open TorchSharp
open Research.Model
open Research.Model.Training
open Research.Model.Models
open Research.Model.Runtime
open Research.Benchmarks.BenchStats

/// Where the growth is measured from (issue #4: RSS at step 2,000 within 5 % of step 200).
let baselineStep = 200

/// Audio steps of the cycled batches, as fractions of the demo shape's (video, words and characters scale alike).
let private lengthScales = [ 1.0; 0.8; 1.2; 0.6 ]

let private scaled (shape: BatchShape) (k: float) =
    let s (n: int) = max 1 (int (round (k * float n)))
    BatchShape(shape.Batch, s shape.AudioSteps, s shape.VideoFrames, s shape.Words, s shape.Characters)

/// Trains `steps` steps (at least baselineStep) and samples RSS every `every` steps; returns the JSON record.
let measure (config: ModelConfig) (shape: BatchShape) (steps: int) (every: int) (seed: int) =
    if steps < baselineStep then
        invalidArg "steps" $"the memory benchmark needs at least {baselineStep} steps, got {steps}"

    GC.Collect()
    let peakReset = resetPeakResident ()
    let start = residentMiB ()
    torch.manual_seed (int64 seed) |> ignore
    use model = new MultiTaskModel(config)

    let step =
        TrainStep(model, MultiTaskCriterion.For(config), LearningRateSchedule(0.05, config.DModel, 4))

    let samples = ResizeArray<int * float>()
    let times = ResizeArray<float>()
    let probe = LoadProbe()
    let clock = Stopwatch.StartNew()

    for n in 1..steps do
        do
            use scope = torch.NewDisposeScope()

            let struct (input, targets) =
                SyntheticBatch.Create(config, scaled shape lengthScales[n % lengthScales.Length], seed + n, torch.CPU)

            let r = step.Run(input, targets)
            times.Add r.Milliseconds

        if n % every = 0 || n = baselineStep || n = steps then
            match residentMiB () with
            | Some(rss, _) -> samples.Add((n, rss))
            | None -> ()

        if n % 500 = 0 then
            printfn "  memory: step %d/%d, %.0f s" n steps clock.Elapsed.TotalSeconds

    let load = probe.Stop()

    match start, residentMiB () with
    | Some(rss0, _), Some(_, peak) ->
        let at k =
            samples |> Seq.find (fun (n, _) -> n = k) |> snd

        let rssBase = at baselineStep
        let rssEnd = at steps
        let growth = (rssEnd - rssBase) / rssBase
        let ms = spread "memory step" (List.ofSeq times)

        printfn
            "  memory: RSS %.0f MiB at step %d, %.0f MiB at step %d (%+.1f %%), peak %.0f MiB; %.0f ms per step"
            rssBase
            baselineStep
            rssEnd
            steps
            (100.0 * growth)
            peak
            ms.Median

        JsonObject(
            dict
                [
                    "what",
                    JsonValue.Create(
                        $"demo model (d {config.DModel}), {steps} TrainStep steps on generated batches of {shape.Batch} items "
                        + $"(audio steps cycling {String.Join('/', lengthScales |> List.map (fun k -> (scaled shape k).AudioSteps))}), "
                        + "one dispose scope per step, a collection before every step (CollectionGuard)"
                    )
                    :> JsonNode
                    "steps", JsonValue.Create steps
                    "rss_mib_before_model", JsonValue.Create rss0
                    "rss_mib_at_baseline", JsonValue.Create rssBase
                    "baseline_step", JsonValue.Create baselineStep
                    "rss_mib_at_end", JsonValue.Create rssEnd
                    "growth_fraction", JsonValue.Create growth
                    "peak_rss_mib", JsonValue.Create peak
                    "peak_reset_at_start", JsonValue.Create peakReset
                    "samples",
                    JsonArray(
                        samples
                        |> Seq.map (fun (n, rss) -> JsonArray(JsonValue.Create n, JsonValue.Create rss) :> JsonNode)
                        |> Array.ofSeq
                    )
                    "ms_per_step", sampleJson "memory step" (List.ofSeq times)
                    "load", loadJson load
                ]
        )
    | _ -> failwith "memory: /proc/self/status gives no VmRSS/VmHWM here"
