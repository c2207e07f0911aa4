/// Fine-tuning starts from the pre-trained encoder: every encoder and cross-modal weight is the checkpoint's, and a
/// checkpoint that does not fit is a named error with nothing loaded.
module Research.Model.Tests.Training.PretrainedLoadingTests

open System
open System.IO
open System.Text.Json
open Expecto
open TorchSharp
open Research.Model
open Research.Model.Models
open Research.Model.Modules
open Research.Model.Training
open Research.Model.Tests
open Research.Model.Tests.Audio.References
open Research.Experiments

/// A pre-training config of the tiny sizes with the given audio input size and audio layers, and dropout 0.3.
let private sized (audioDim: int) (audioLayers: int) =
    ModelConfig(
        AudioDim = audioDim,
        VideoDim = 12,
        TextDim = 6,
        DModel = 16,
        Heads = 2,
        FeedForward = 20,
        AudioLayers = audioLayers,
        CrossModalLayers = 2,
        DecoderLayers = 2,
        Speakers = 5,
        Dropout = 0.3,
        LabelSmoothing = 0.0,
        Tasks = TaskWeights.Pretraining,
        Modalities = ModalityWeights.Paper
    )

/// Pre-training sizes: the tiny ones (with dropout).
let private preConfig = sized 10 2

/// The emotion model fine-tuning builds over the same encoder sizes.
let private fineConfig =
    Fixtures.tinyWith TaskWeights.EmotionOnly ModalityWeights.Paper
    |> fun c -> c.WithDropout 0.3

/// Pre-trains a tiny model for a few Adam steps on synthetic batches and writes a finished pre-training run
/// (model.bin, model-config.json, DONE) at `dir`; returns the encoder's weights as trained.
let private pretrain (dir: string) (config: ModelConfig) =
    Directory.CreateDirectory dir |> ignore
    torch.manual_seed 11L |> ignore
    use m = new MultiTaskModel(config)

    let step =
        TrainStep(m, MultiTaskCriterion(config.Tasks), LearningRateSchedule(2.0, config.DModel, 2))

    for s in 0..3 do
        use _ = torch.NewDisposeScope()

        let struct (input, targets) =
            SyntheticBatch.Create(config, BatchShape(2, 12, 10, 5, 8), 100 + s, torch.CPU)

        step.Run(input, targets) |> ignore

    Trainer.SaveWeights(m, Path.Combine(dir, Pretrain.weightsFile))
    File.WriteAllText(Path.Combine(dir, Pretrain.modelConfigFile), JsonSerializer.Serialize config)
    File.WriteAllText(Path.Combine(dir, RunFolder.DoneFile), "test\n")

    m.Encoder.state_dict ()
    |> Seq.map (fun kv -> kv.Key, kv.Value.detach().clone())
    |> Map.ofSeq

/// Exactly equal shapes and values.
let private same (a: torch.Tensor) (b: torch.Tensor) =
    a.shape = b.shape && Tensors.values a = Tensors.values b

/// A fine-tuning model at step 0: seeded as `FineTune.run` seeds it.
let private fresh (seed: int64) =
    torch.manual_seed seed |> ignore
    new MultiTaskModel(fineConfig)

let private encoderWeights (m: MultiTaskModel) =
    m.Encoder.state_dict () |> Seq.map (fun kv -> kv.Key, kv.Value) |> Map.ofSeq

/// Writes a run whose model-config.json says `preConfig` but whose weights come from a model of `weightsConfig`.
let private mismatchedRun (dir: string) (weightsConfig: ModelConfig) =
    Directory.CreateDirectory dir |> ignore
    torch.manual_seed 3L |> ignore
    use other = new MultiTaskModel(weightsConfig)
    Trainer.SaveWeights(other, Path.Combine(dir, Pretrain.weightsFile))
    File.WriteAllText(Path.Combine(dir, Pretrain.modelConfigFile), JsonSerializer.Serialize preConfig)
    File.WriteAllText(Path.Combine(dir, RunFolder.DoneFile), "test\n")
    dir

/// Expects a named error for `run` and that the model's encoder is untouched (no partial load).
let private expectRefused (run: string) (needles: string list) =
    use m = fresh 5L
    let before = encoderWeights m |> Map.map (fun _ t -> t.clone ())

    let e = Expect.throwsC (fun () -> FineTune.loadPretrainedEncoder run m) id

    let file = Path.Combine(run, Pretrain.weightsFile)
    Expect.stringContains e.Message file "the error names the weights file"

    for n in needles do
        Expect.stringContains e.Message n "the error names the key and shapes"

    for KeyValue(k, t) in encoderWeights m do
        Expect.isTrue (same t before.[k]) $"{k} unchanged after a refused load"

[<Tests>]
let tests =
    testSequenced
    <| testList
        "PretrainedLoading"
        [
            test "the weights-file reader lists exactly the saved keys and shapes" {
                withTempDir (fun dir ->
                    use m = Fixtures.model 1L preConfig
                    let path = Path.Combine(dir, "m.bin")
                    m.save path |> ignore

                    let listed =
                        WeightsFile.Entries path
                        |> Seq.map (fun struct (key, _, shape) -> key, List.ofArray shape)
                        |> List.ofSeq

                    let expected =
                        m.state_dict ()
                        |> Seq.map (fun kv -> kv.Key, List.ofArray kv.Value.shape)
                        |> List.ofSeq

                    Expect.sequenceEqual listed expected "keys and shapes in save order")
            }

            test "an any-subset model with learned weights fine-tunes from a paper pre-training: its own logits and norm kept" {
                withTempDir (fun dir ->
                    let run = Path.Combine(dir, "pretrain")
                    let trained = pretrain run preConfig
                    torch.manual_seed 5L |> ignore

                    use m =
                        new MultiTaskModel(fineConfig.WithAnySubset(true, 0.2).WithLearnedModalityWeights(true))

                    let own = encoderWeights m |> Map.map (fun _ t -> t.clone ())
                    FineTune.loadPretrainedEncoder run m
                    let loaded = encoderWeights m

                    for KeyValue(k, t) in trained do
                        Expect.isTrue (same loaded[k] t) $"{k} is the pre-trained weight"

                    for k in [ "modality_logits"; "substitute_norm.weight"; "substitute_norm.bias" ] do
                        Expect.isFalse (trained.ContainsKey k) $"{k}: not in the paper's encoder"
                        Expect.isTrue (same loaded[k] own[k]) $"{k} keeps the fine-tuning model's own value")
            }

            test "fine-tuning at step 0 holds every pre-trained encoder and cross-modal weight, not a fresh init" {
                withTempDir (fun dir ->
                    let run = Path.Combine(dir, "pretrain")
                    let trained = pretrain run preConfig
                    use m = fresh 5L
                    let scratch = encoderWeights m |> Map.map (fun _ t -> t.clone ())
                    FineTune.loadPretrainedEncoder run m
                    let loaded = encoderWeights m

                    Expect.sequenceEqual (Map.keys loaded |> List.ofSeq) (Map.keys trained |> List.ofSeq) "the encoder's keys"

                    let groups = loaded.Keys |> Seq.map (fun k -> k.Split('.')[0]) |> Set.ofSeq

                    Expect.equal groups (set [ "audio"; "video"; "text" ]) "audio encoder and both cross-modal streams"

                    // The checkpoint file itself, read back into a pre-training model.
                    use fromFile = new MultiTaskModel(preConfig)
                    fromFile.load (Path.Combine(run, Pretrain.weightsFile)) |> ignore
                    let fileWeights = encoderWeights fromFile

                    let parameters =
                        m.Encoder.named_parameters () |> Seq.map (fun struct (n, _) -> n) |> Set.ofSeq

                    for KeyValue(k, t) in loaded do
                        Expect.isTrue (same t trained.[k]) $"{k} equals the pre-trained weight"
                        Expect.isTrue (same t fileWeights.[k]) $"{k} equals the checkpoint file's"

                        if parameters.Contains k then
                            Expect.isFalse (same t scratch.[k]) $"{k} differs from the from-scratch init (same seed)"

                    // The heads fine-tuning adds stay as initialised.
                    use again = fresh 5L
                    let init = again.state_dict ()

                    for KeyValue(k, t) in m.state_dict () do
                        if not (k.StartsWith "encoder.") then
                            Expect.isTrue (same t init.[k]) $"{k} (head) keeps its init")
            }

            test "a checkpoint missing encoder keys is a named error and loads nothing" {
                withTempDir (fun dir ->
                    // One audio layer where the config says two: encoder.audio.layers.1.* are missing.
                    let run = mismatchedRun (Path.Combine(dir, "missing")) (sized 10 1)

                    let key =
                        new MultiTaskModel(preConfig)
                        |> fun m ->
                            use _ = m

                            m.state_dict().Keys
                            |> Seq.find (fun k -> k.StartsWith "encoder.audio.layers.1.")

                    expectRefused run [ "missing key"; $"'{key}'"; "expected shape [" ])
            }

            test "a checkpoint with a misshaped encoder key is a named error with both shapes, and loads nothing" {
                withTempDir (fun dir ->
                    // Audio features of 11 dims where the config says 10: the audio input projection is 16 x 11.
                    let run = mismatchedRun (Path.Combine(dir, "misshaped")) (sized 11 2)

                    expectRefused run [ "expected [16, 10]"; "found [16, 11]"; "encoder.audio." ])
            }

            test "a checkpoint with keys the model lacks is a named error" {
                withTempDir (fun dir ->
                    let run = mismatchedRun (Path.Combine(dir, "extra")) (sized 10 3)

                    expectRefused run [ "unexpected key 'encoder.audio.layers.2." ])
            }
        ]
