// A walk-through of a trained encoder: load a checkpoint, embed a few utterances, look at their cross-modal attention
// maps, and see all embeddings in 2-D (PCA) coloured by emotion and by speaker.
//
// Step through it in an editor's F# Interactive (VS Code + Ionide, Rider, Visual Studio: select a block, Alt+Enter):
// each numbered block below can be sent on its own, and the values it binds are there to poke at afterwards. Or run it
// top to bottom, writing its charts (HTML, plotly.js inline; PNG too when chromium is installed) to a folder:
//
//   dotnet fsi scripts/explore.fsx [-- --checkpoint RUN --data DIR --out FOLDER --items 3 --png false]
//   help: dotnet fsi scripts/explore.fsx -- --help
//
// Defaults: runs/finetune-demo (else runs/pretrain-demo), data/demo/features/emotion, charts in runs/explore/. With
// --data data/demo/pretrain/data (a Kaldi data dir) the text attention maps are labelled with the words and points
// are coloured by the data dir's speakers (that corpus has no emotion labels).
//
// F# Interactive reads the #r lines below before it runs anything, so the build must exist first: any script makes
// it (e.g. dotnet fsi scripts/embed.fsx -- --help), or dotnet build Research.sln -c Release.
#load "Research.fsx"
#r "../artifacts/bin/Commands.FSharp/release/TorchSharp.dll"
#r "../artifacts/bin/Commands.FSharp/release/Model.CSharp.dll"
#r "../artifacts/bin/Commands.FSharp/release/Newtonsoft.Json.dll"
#r "../artifacts/bin/Commands.FSharp/release/DynamicObj.dll"
#r "../artifacts/bin/Commands.FSharp/release/Giraffe.ViewEngine.dll"
#r "../artifacts/bin/Commands.FSharp/release/Plotly.NET.dll"
#r "../artifacts/bin/Commands.FSharp/release/Experiments.FSharp.dll"
#r "../artifacts/bin/Commands.FSharp/release/Commands.FSharp.dll"

open System
open System.IO
open TorchSharp
open Research.Model
open Research.Model.Data
open Research.Model.Embeddings
open Research.Model.Models
open Research.Experiments

// ---- 0. Settings: edit them here when stepping through; flags after `--` override them when run whole. ----------
let argv = Research.scriptArgs ()

let settings =
    match Research.Commands.Explore.settings argv with
    | Ok settings -> settings
    | Error code -> exit code // 0 after --help, 2 after a usage error (both printed)

// The assemblies above were loaded from the last build; if the sources changed since, rebuild and start again.
// (RESEARCH_NO_BUILD=1 skips the check: the test that runs this script runs inside the build.)
if Environment.GetEnvironmentVariable "RESEARCH_NO_BUILD" <> "1" then
    let stampFile = Path.Combine(Research.root, "artifacts", "bin", ".built")
    let builtAt = File.GetLastWriteTimeUtc stampFile
    Research.ensureBuilt ()

    if File.GetLastWriteTimeUtc stampFile <> builtAt then
        eprintfn "note: the sources changed and were rebuilt; this session still runs the previous build: run it again"

// ---- 1. TorchSharp and the model ------------------------------------------------------------------------------
Explore.initializeInteractive settings.Threads
let checkpoint = Embed.resolveCheckpoint settings.Checkpoint
let model = Embed.loadModel checkpoint torch.CPU

printfn
    "model: %s run %s; d %d, %d audio and %d cross-modal layers, %d heads; stream weights %A"
    checkpoint.Kind
    checkpoint.Folder
    model.Config.DModel
    model.Config.AudioLayers
    model.Config.CrossModalLayers
    model.Config.Heads
    model.Encoder.Weights

// ---- 2. The data and a few utterances -------------------------------------------------------------------------
let data = Embed.resolveData settings.Data

let stores =
    data.Stores |> List.map (fun (name, dir) -> name, FeatureStore.Open dir)

let storeName, store = stores.Head
let items = [| 0 .. min settings.Items store.Count - 1 |]

let rowsOf (item: int) (modality: string) =
    if Seq.contains modality store.Modalities then
        store.Rows(item, modality)
    else
        0

for i in items do
    printfn
        "%s/%s: %d audio steps, %d video frames, %d words"
        storeName
        store.Ids[i]
        (rowsOf i CorpusFeatures.Audio)
        (rowsOf i CorpusFeatures.Video)
        (rowsOf i CorpusFeatures.Text)

// ---- 3. Embed them: the mean over audio steps of the fused encoder output -------------------------------------
let embedded = EmbeddingExtractor.Embed(model.Encoder, store, items) |> Array.ofSeq

let cosine (a: float32 array) (b: float32 array) =
    let dot (x: float32 array) (y: float32 array) =
        Array.fold2 (fun s p q -> s + float p * float q) 0.0 x y

    dot a b / sqrt (dot a a * dot b b)

// The same utterances with audio alone (video and text weights 0, the paper's inference-time ablation): how far
// does each embedding move?
let fullWeights = model.Encoder.Weights
model.Encoder.Weights <- ModalityWeights(fullWeights.Audio, 0.0, 0.0)

let audioOnly = EmbeddingExtractor.Embed(model.Encoder, store, items) |> Array.ofSeq

model.Encoder.Weights <- fullWeights

for e, a in Array.zip embedded audioOnly do
    let norm = sqrt (e.Mean |> Array.sumBy (fun x -> float x * float x))
    printfn "%s: |embedding| %.3f; cosine(all modalities, audio only) %.3f" e.Id norm (cosine e.Mean a.Mean)

// ---- 4. Cross-modal attention maps: which video frames / words each audio step attends to ---------------------
// `attention` gives every layer, averaged over heads; the charts show the last layer (what reaches the fused output).
let attentions = items |> Array.map (Explore.attention model data store)

let attentionCharts =
    [
        for a in attentions do
            let last (layers: float[,] array) = layers[layers.Length - 1]

            match a.Video with
            | Some layers ->
                let title =
                    $"{a.Id}: audio → video attention, layer {layers.Length} (mean of heads)"

                yield
                    Plots.attentionMap title "video frame" None (last layers)
                    |> Explore.write settings $"attention-{Explore.safe a.Id}-video"
            | None -> ()

            match a.Text with
            | Some layers ->
                let title = $"{a.Id}: audio → text attention, layer {layers.Length} (mean of heads)"

                yield
                    Plots.attentionMap title "word" a.Words (last layers)
                    |> Explore.write settings $"attention-{Explore.safe a.Id}-text"
            | None -> ()
    ]

// The word each audio step attends to most (last layer), for the first item with words.
match attentions |> Array.tryFind (fun a -> a.Words.IsSome && a.Text.IsSome) with
| Some a ->
    let map = a.Text.Value[a.Text.Value.Length - 1]
    let words = a.Words.Value

    let peaks =
        [
            for i in 0 .. map.GetLength 0 - 1 -> words[[| 0 .. map.GetLength 1 - 1 |] |> Array.maxBy (fun j -> map[i, j])]
        ]

    printfn "%s: most-attended word per audio step: %s" a.Id (String.Join(" ", peaks))
| None -> ()

// ---- 5. All embeddings in 2-D, coloured by emotion and by speaker ---------------------------------------------
let rows, matrix = Explore.embedAll model stores settings.MaxPoints
let points, pca = Projection.project2d matrix

let axes =
    $"PC1 ({100.0 * pca.VarianceRatio[0]:F1} %% of variance)", $"PC2 ({100.0 * pca.VarianceRatio[1]:F1} %%)"

let hover = rows |> Array.map (fun (name, _, e) -> $"{name}/{e.Id}")

let labelsOf (pick: FeatureStore -> string array option) =
    let cache = Collections.Generic.Dictionary<FeatureStore, string array option>()

    rows
    |> Array.map (fun (_, s, e) ->
        if not (cache.ContainsKey s) then
            cache[s] <- pick s

        cache[s] |> Option.map (fun l -> l[e.Item]) |> Option.defaultValue "unlabelled")

let emotions = labelsOf Explore.emotionLabels
let speakerKind = fst (Explore.speakerLabels data store)
let speakers = labelsOf (fun s -> Some(snd (Explore.speakerLabels data s)))

let emotionTitle =
    if emotions |> Array.forall ((=) "unlabelled") then
        $"Embeddings ({rows.Length} items; this data has no emotion labels)"
    else
        $"Embeddings by dominant emotion ({rows.Length} items)"

let scatterCharts =
    [
        Plots.scatter2d emotionTitle axes points emotions hover
        |> Explore.write settings "embeddings-by-emotion"
        Plots.scatter2d $"Embeddings by {speakerKind} ({rows.Length} items)" axes points speakers hover
        |> Explore.write settings "embeddings-by-speaker"
    ]

printfn
    "explore: %d attention maps and 2 projections of %d embeddings (PC1+PC2 %.1f %% of variance) in %s"
    attentionCharts.Length
    rows.Length
    (100.0 * (pca.VarianceRatio[0] + pca.VarianceRatio[1]))
    (Path.GetFullPath settings.Out)

for path in attentionCharts @ scatterCharts do
    printfn "  %s" path
