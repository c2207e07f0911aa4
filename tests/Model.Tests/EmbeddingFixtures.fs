/// Tiny feature stores and run folders for the embedding tests.
module Research.Model.Tests.EmbeddingFixtures

open System
open System.Collections.Generic
open System.IO
open System.Text.Json
open TorchSharp
open Research.Model
open Research.Model.Data
open Research.Model.Training
open Research.Model.Tests.Fixtures
open Research.Model.Models
open Research.Model.Modules
open Research.Experiments

/// One store item: its id and features by modality (a modality left out is absent for that item).
type StoreItem =
    {
        Id: string
        Features: IReadOnlyDictionary<string, float32[,]>
    }

/// Items with random features of the tiny config's sizes and the given (audio, video, text) lengths.
let storeItems (seed: int) (config: ModelConfig) (lengths: (int * int * int) list) =
    examples seed config lengths
    |> List.mapi (fun i x ->
        {
            Id = $"utt{i:D2}"
            Features =
                readOnlyDict
                    [
                        CorpusFeatures.Audio, x.Audio
                        CorpusFeatures.Video, x.Video
                        CorpusFeatures.Text, x.Text
                    ]
        })

/// The items with only the given modalities.
let keep (modalities: string list) (items: StoreItem list) =
    items
    |> List.map (fun it ->
        { it with
            Features =
                it.Features
                |> Seq.filter (fun kv -> List.contains kv.Key modalities)
                |> Seq.map (fun kv -> kv.Key, kv.Value)
                |> readOnlyDict
        })

/// Builds a feature store of the items at `dir`; returns `dir`.
let buildStore (dir: string) (items: StoreItem list) =
    FeatureCache.Build(dir, List.toArray items, (fun i -> i.Id), (fun i -> i.Id), (fun i -> i.Features))
    |> ignore

    dir

/// Writes a pre-training run folder (model.bin + model-config.json) of a fresh model; returns the folder.
let pretrainingRun (dir: string) (seed: int64) (config: ModelConfig) =
    Directory.CreateDirectory dir |> ignore
    use m = model seed config
    Trainer.SaveWeights(m, Path.Combine(dir, Pretrain.weightsFile))
    File.WriteAllText(Path.Combine(dir, Pretrain.modelConfigFile), JsonSerializer.Serialize config)
    dir

/// The tiny config's sizes as an experiment record.
let tinySize: Config.ModelSize =
    {
        DModel = tiny.DModel
        Heads = tiny.Heads
        FeedForward = tiny.FeedForward
        AudioLayers = tiny.AudioLayers
        CrossModalLayers = tiny.CrossModalLayers
        DecoderLayers = tiny.DecoderLayers
        Dropout = 0.0
        LabelSmoothing = 0.0
        AnySubset = false
        ModalityDropout = 0.0
        LearnedModalityWeights = false
    }

let tinyInputs: Config.Inputs =
    {
        AudioDim = tiny.AudioDim
        VideoDim = tiny.VideoDim
        TextDim = tiny.TextDim
    }

/// Writes an emotion run folder (config.json of fine-tuning + best.bin) of a fresh tiny emotion model.
let emotionRun (dir: string) (seed: int64) =
    Directory.CreateDirectory dir |> ignore

    let c =
        { Config.demoFineTuning with
            Model = tinySize
            Inputs = tinyInputs
        }

    File.WriteAllText(Path.Combine(dir, "config.json"), Config.toJson c)

    let config =
        Config.modelConfig c.Model c.Inputs c.Modalities TaskWeights.EmotionOnly 1

    use m = model seed config
    Trainer.SaveWeights(m, Path.Combine(dir, "best.bin"))
    dir, config

/// Mean over the rows of a matrix.
let rowMean (x: float32[,]) =
    Array.init (x.GetLength 1) (fun j ->
        (Array.init (x.GetLength 0) (fun i -> float x[i, j]) |> Array.sum)
        / float (x.GetLength 0))

/// Largest absolute difference of two equal-length arrays.
let maxDiff (a: float array) (b: float array) =
    Array.map2 (fun x y -> abs (x - y)) a b |> Array.max

/// A row of a matrix as floats.
let row (x: float32[,]) (i: int) =
    Array.init (x.GetLength 1) (fun j -> float x[i, j])

/// The embedding of one example computed directly: the encoder on that example alone, mean over its audio steps.
let directEmbedding (m: MultiTaskModel) (x: Example) (withVideo: bool) (withText: bool) =
    use _ = torch.NewDisposeScope()
    use _ = torch.no_grad ()
    let one (a: float32[,]) = Sequence.FromArrays [| a |]

    let input =
        EncoderInput(one x.Audio, (if withVideo then one x.Video else null), (if withText then one x.Text else null))

    let fused = m.Encoder.forward(input).Fused.mean([| 1L |]).squeeze 0
    Tensors.values fused |> Array.map float
