/// The pieces of the interactive walk-through scripts/explore.fsx: settings, TorchSharp inside F# Interactive,
/// one item's cross-modal attention maps, labels to colour embeddings by (emotion, speaker) and the charts.
module Research.Experiments.Explore

open System
open System.IO
open System.Runtime.InteropServices
open TorchSharp
open Research.Model
open Research.Model.Data
open Research.Model.Embeddings
open Research.Model.Text
open Research.Model.Models
open Research.Model.Runtime
open Research.Model.Training

/// What the walk-through looks at and where it writes.
type Settings =
    {
        /// A run folder or weights file (see Embed.resolveCheckpoint).
        Checkpoint: string
        /// A feature store, the emotion stores' root, or a Kaldi data dir (see Embed.resolveData).
        Data: string
        /// Folder for the charts.
        Out: string
        /// Items whose attention maps are drawn (the first ones of the first store).
        Items: int
        /// Most items embedded for the 2-D projection (an evenly spaced subset beyond that).
        MaxPoints: int
        Threads: int
        /// Render PNG copies when chromium is installed.
        Png: bool
    }

/// Defaults for the demo, under the repository root: the fine-tuned demo run if there is one, else the pre-trained
/// one; the demo's emotion stores (emotion labels, and speakers from the demo's video ids).
let defaults () =
    let root = Machine.repoRoot ()
    let under (relative: string) = Path.Combine(root, relative)

    {
        Checkpoint =
            [ "runs/finetune-demo"; "runs/pretrain-demo" ]
            |> List.map under
            |> List.tryFind Directory.Exists
            |> Option.defaultValue (under "runs/pretrain-demo")
        Data = under "data/demo/features/emotion"
        Out = under "runs/explore"
        Items = 3
        MaxPoints = 2000
        Threads = min 2 Environment.ProcessorCount
        Png = true
    }

/// Makes TorchSharp usable in F# Interactive, whose load context does not know the build's native libraries:
/// patches the build's libLibTorchSharp.so where the system's libstdc++ needs it (TorchRuntime), loads it by full
/// path (libtorch comes with it, from the same folder), then initialises torch with `threads`. Elsewhere (a built
/// program) TorchRuntime.Initialize alone does this.
let initializeInteractive (threads: int) =
    if OperatingSystem.IsLinux() then
        let native = Path.Combine(TorchRuntime.NativeFolder(), "libLibTorchSharp.so")

        match TorchRuntime.LibStdCxxPath() with
        | null -> ()
        | libstdcxx when not (TorchRuntime.Defines(libstdcxx, TorchRuntime.MissingVersion)) -> TorchRuntime.PatchFile native |> ignore
        | _ -> ()

        NativeLibrary.Load native |> ignore

    TorchRuntime.Initialize threads

/// One item's cross-modal attention, averaged over heads: per layer (audio steps × video frames / words).
type ItemAttention =
    {
        Id: string
        Video: float[,] array option
        Text: float[,] array option
        /// The item's words (tokens of its transcript) when the data has transcripts and they match its text rows.
        Words: string array option
    }

/// The tokens of an utterance's transcript (lower-cased, as the demo front end tokenises), when `--data` was a Kaldi
/// data dir and their count equals the item's text rows; otherwise None (the chart numbers the words instead).
let words (data: Embed.DataSource) (store: FeatureStore) (item: int) =
    match data.KaldiDir with
    | None -> None
    | Some dir ->
        let id = store.Ids[item]

        KaldiDataDir.Load(dir).Utterances
        |> Seq.tryFind (fun u -> u.Id = id)
        |> Option.map (fun u -> Tokenizer(true).Tokenize(u.Transcript, id) |> Array.ofSeq)
        |> Option.filter (fun tokens ->
            Seq.contains CorpusFeatures.Text store.Modalities
            && store.Rows(item, CorpusFeatures.Text) = tokens.Length)

/// Head-averaged cross-modal attention of every layer for one store item (its modalities that the store has).
let attention (model: MultiTaskModel) (data: Embed.DataSource) (store: FeatureStore) (item: int) =
    use _ = torch.NewDisposeScope()
    use _ = torch.no_grad ()
    model.eval ()
    let device = model.parameters () |> Seq.head |> _.device

    let load (modality: string) =
        if Seq.contains modality store.Modalities && store.Rows(item, modality) > 0 then
            Sequence.FromArrays([| store.Read(item, modality) |], device)
        else
            null

    let input =
        EncoderInput(load CorpusFeatures.Audio, load CorpusFeatures.Video, load CorpusFeatures.Text)

    let maps = model.Encoder.AttentionMaps input

    let toArrays (layers: torch.Tensor array) =
        layers
        |> Array.map (fun t ->
            let m = t.mean([| 1L |]).squeeze(0).cpu() // (Ta, Ts)
            let rows, cols = int m.shape[0], int m.shape[1]
            let v = m.data<float32>().ToArray()
            Array2D.init rows cols (fun i j -> float v[i * cols + j]))

    {
        Id = store.Ids[item]
        Video = maps.Video |> Option.ofObj |> Option.map toArrays
        Text = maps.Text |> Option.ofObj |> Option.map toArrays
        Words = words data store item
    }

/// The emotion an item shows most (highest intensity), or "none" when all six are 0.
let dominantEmotion (intensities: float32 array) =
    if intensities |> Array.forall (fun x -> x <= 0.0f) then
        "none"
    else
        MoseiSegment.Emotions[Array.IndexOf(intensities, Array.max intensities)]

/// The dominant emotion of each item of an emotion store; None for a store without labels.
let emotionLabels (store: FeatureStore) =
    if Seq.contains CorpusFeatures.Labels store.Modalities then
        Some
            [|
                for i in 0 .. store.Count - 1 ->
                    let l = store.Read(i, CorpusFeatures.Labels)
                    dominantEmotion (Array.init (l.GetLength 1) (fun j -> l[0, j]))
            |]
    else
        None

/// Who speaks in each item, and what that label is: "speaker" from the Kaldi dir's utt2spk, or from the demo
/// emotion corpus's ids (`emSSSS_vN[k]`: speaker emSSSS); otherwise the segment's "video" (CMU-MOSEI ids name
/// videos, not speakers).
let speakerLabels (data: Embed.DataSource) (store: FeatureStore) =
    match data.KaldiDir with
    | Some dir ->
        let speakerOf =
            KaldiDataDir.Load(dir).Utterances |> Seq.map (fun u -> u.Id, u.Speaker) |> dict

        "speaker",
        [|
            for id in store.Ids ->
                match speakerOf.TryGetValue id with
                | true, s -> s
                | _ -> "unknown"
        |]
    | None ->
        let video (id: string) =
            let k = id.LastIndexOf '['
            if k > 0 then id.Substring(0, k) else id

        let demo = Text.RegularExpressions.Regex "^(em\\d+)_v\\d+$"
        let videos = store.Ids |> Seq.map video |> Array.ofSeq

        if videos |> Array.forall demo.IsMatch then
            "speaker", videos |> Array.map (fun v -> demo.Match(v).Groups[1].Value)
        else
            "video", videos

/// At most `most` evenly spaced positions of 0 .. n − 1 (all when n ≤ most).
let spread (n: int) (most: int) =
    if n <= most then
        [| 0 .. n - 1 |]
    else
        [| for k in 0 .. most - 1 -> int (int64 k * int64 n / int64 most) |]

/// Saves a chart as `name.html` under `out` and, when asked and chromium is installed, `name.png`; returns the HTML path.
let write (s: Settings) (name: string) chart =
    let html = Path.Combine(s.Out, name + ".html")
    Plots.save chart html

    if s.Png then
        Plots.png html (Path.Combine(s.Out, name + ".png")) |> ignore

    html

/// A file-name-safe form of an item id.
let safe (id: string) =
    String(
        id
        |> Seq.map (fun c ->
            if Char.IsLetterOrDigit c || c = '-' || c = '_' then
                c
            else
                '_')
        |> Array.ofSeq
    )

/// Embeddings of the given positions of each store, with their store and position, as one matrix.
let embedAll (model: MultiTaskModel) (stores: (string * FeatureStore) list) (most: int) =
    let total = stores |> List.sumBy (fun (_, s) -> s.Count)
    let chosen = spread total most |> Set.ofArray
    let mutable offset = 0

    let rows =
        [|
            for name, s in stores do
                let items =
                    [| 0 .. s.Count - 1 |] |> Array.filter (fun i -> chosen.Contains(offset + i))

                offset <- offset + s.Count

                for e in EmbeddingExtractor.Embed(model.Encoder, s, items) -> name, s, e
        |]

    let dim = model.Config.DModel

    let matrix =
        Array2D.init rows.Length dim (fun i j ->
            let _, _, e = rows[i]
            e.Mean[j])

    rows, matrix
