/// Tiny configurations and random batches for the model tests.
module Research.Model.Tests.Fixtures

open System
open TorchSharp
open Research.Model
open Research.Model.Models
open Research.Model.Modules
open Research.Model.Text

/// A configuration small enough for second-long tests, with the given tasks and modality weights;
/// dropout off so outputs are deterministic.
let tinyWith (tasks: TaskWeights) (modalities: ModalityWeights) =
    ModelConfig(
        AudioDim = 10,
        VideoDim = 12,
        TextDim = 6,
        DModel = 16,
        Heads = 2,
        FeedForward = 20,
        AudioLayers = 2,
        CrossModalLayers = 2,
        DecoderLayers = 2,
        Speakers = 5,
        Dropout = 0.0,
        LabelSmoothing = 0.0,
        Tasks = tasks,
        Modalities = modalities
    )

/// Pre-training tasks (ASR 0.8, speaker 0.2) and the paper's modality weights.
let tiny = tinyWith TaskWeights.Pretraining ModalityWeights.Paper

/// All three tasks on, so every head exists.
let tinyAllTasks = tinyWith (TaskWeights(0.8, 0.2, 1.0)) ModalityWeights.Paper

/// Random (T_i, dim) arrays from a seeded generator.
let randomItems (rng: Random) (lengths: int list) (dim: int) : float32[,] array =
    [|
        for t in lengths -> Array2D.init t dim (fun _ _ -> float32 (rng.NextDouble() * 2.0 - 1.0))
    |]

/// Pads items into a batch and fills the padded positions with large garbage (not zeros): an
/// implementation that does not mask padding, or that guesses padding from zeros (MulT), sees it.
let padWithGarbage (items: float32[,] array) : Sequence =
    let s = Sequence.FromArrays(items)
    let garbage = torch.randn (s.Features.shape) * 100.0f
    let features = torch.where (s.Padding.unsqueeze (-1), garbage, s.Features)
    Sequence(features, s.Padding)

/// One example's three modalities as arrays.
type Example =
    {
        Audio: float32[,]
        Video: float32[,]
        Text: float32[,]
    }

/// Examples with the given (audio, video, text) lengths.
let examples (seed: int) (config: ModelConfig) (lengths: (int * int * int) list) : Example list =
    let rng = Random seed

    [
        for (a, v, t) in lengths ->
            {
                Audio = (randomItems rng [ a ] config.AudioDim)[0]
                Video = (randomItems rng [ v ] config.VideoDim)[0]
                Text = (randomItems rng [ t ] config.TextDim)[0]
            }
    ]

/// The encoder input of a list of examples, padded with garbage.
let batch (xs: Example list) : EncoderInput =
    EncoderInput(
        padWithGarbage [| for x in xs -> x.Audio |],
        padWithGarbage [| for x in xs -> x.Video |],
        padWithGarbage [| for x in xs -> x.Text |]
    )

/// A fresh model from a fixed seed, in evaluation mode.
let model (seed: int64) (config: ModelConfig) : MultiTaskModel =
    torch.manual_seed seed |> ignore
    let m = new MultiTaskModel(config)
    m.eval ()
    m

/// Character ids of short transcripts.
let transcripts (texts: string list) : int array array =
    [| for t in texts -> CharVocabulary.English.Encode(t) |]
