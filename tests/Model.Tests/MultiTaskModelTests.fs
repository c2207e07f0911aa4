module Research.Model.Tests.MultiTaskModelTests

open System.IO
open Expecto
open TorchSharp
open Research.Model
open Research.Model.Tests.Fixtures
open Research.Model.Tests.Tensors
open Research.Model.Models
open Research.Model.Text

/// Parameter count from the architecture's description, independent of the implementation.
module ClosedForm =
    let linear (i: int64) (o: int64) = i * o + o
    let layerNorm (d: int64) = 2L * d
    let attention (d: int64) = 4L * linear d d
    let feedForward (d: int64) (f: int64) = linear d f + linear f d

    let encoderLayer d f =
        attention d + feedForward d f + 2L * layerNorm d

    let crossModalLayer d f =
        attention d + feedForward d f + 3L * layerNorm d

    let decoderLayer d f =
        2L * attention d + feedForward d f + 3L * layerNorm d

    let count (c: ModelConfig) =
        let d, f = int64 c.DModel, int64 c.FeedForward

        let branch (inDim: int) (weight: float) =
            if weight > 0.0 then
                linear (int64 inDim) d
                + int64 c.CrossModalLayers * crossModalLayer d f
                + layerNorm d
            else
                0L

        let audio =
            linear (int64 c.AudioDim) d
            + int64 c.AudioLayers * encoderLayer d f
            + layerNorm d

        let asr =
            if c.Tasks.Asr > 0.0 then
                int64 c.VocabSize * d
                + int64 c.DecoderLayers * decoderLayer d f
                + layerNorm d
                + linear d (int64 c.VocabSize)
            else
                0L

        let speaker =
            if c.Tasks.Speaker > 0.0 then
                linear d (int64 c.Speakers)
            else
                0L

        let emotion =
            if c.Tasks.Emotion > 0.0 then
                linear d (int64 c.Emotions)
            else
                0L

        audio
        + branch c.VideoDim c.Modalities.Video
        + branch c.TextDim c.Modalities.Text
        + asr
        + speaker
        + emotion

let parameterCount (m: torch.nn.Module) =
    m.parameters () |> Seq.sumBy (fun p -> p.numel ())

/// Targets for examples: transcripts, speaker ids, and emotion labels.
let targets (texts: string list) (speakers: int64 list) (emotions: float32 array) =
    let struct (input, target) = Targets.AsrPairs(transcripts texts)
    let e = floats [ int64 texts.Length; 6L ] emotions false
    input, Targets(input, target, longs (List.toArray speakers), e)

[<Tests>]
let tests =
    testSequenced
    <| testList
        "MultiTaskModel"
        [
            test "the paper configuration has the closed-form parameter count" {
                let m = new MultiTaskModel(ModelConfig.Paper)
                let count = parameterCount m
                printfn "paper configuration: %d parameters" count
                Expect.equal count (ClosedForm.count ModelConfig.Paper) "paper config"
            }

            test "the paper configuration has 25,192,570 parameters (pinned: any change to the model shows here)" {
                use m = new MultiTaskModel(ModelConfig.Paper)
                Expect.equal (parameterCount m) 25192570L "paper config, as a literal"
            }

            test "parameter counts follow the tasks and modalities that are on" {
                for tasks in
                    [
                        TaskWeights.Pretraining
                        TaskWeights.EmotionOnly
                        TaskWeights(1.0, 0.0, 0.0)
                        TaskWeights(0.8, 0.2, 1.0)
                    ] do
                    for mods in
                        [
                            ModalityWeights.Paper
                            ModalityWeights(1.0, 0.0, 0.0)
                            ModalityWeights(0.5, 0.0, 0.5)
                        ] do
                        let c = tinyWith tasks mods
                        Expect.equal (parameterCount (new MultiTaskModel(c))) (ClosedForm.count c) $"{tasks} {mods}"
            }

            test "a task with weight 0 builds no head" {
                let m = new MultiTaskModel(tinyWith TaskWeights.EmotionOnly ModalityWeights.Equal)
                let names = [ for struct (n, _) in m.named_parameters () -> n ]

                Expect.isFalse
                    (names |> List.exists (fun n -> n.StartsWith "asr." || n.StartsWith "speaker."))
                    "no ASR or speaker parameters"

                Expect.isTrue (names |> List.exists (fun n -> n.StartsWith "emotion.")) "emotion head"
                Expect.isNull m.Asr "no decoder"
            }

            test "every parameter receives a gradient" {
                use _ = torch.NewDisposeScope()
                let m = model 5L tinyAllTasks
                m.train ()
                let input = batch (examples 3 tinyAllTasks [ (6, 5, 4); (4, 3, 2) ])

                let asrInput, t =
                    targets [ "hi there"; "ok" ] [ 1L; 3L ] [| 1f; 0f; 0f; 1f; 0f; 0f; 0f; 1f; 1f; 0f; 0f; 1f |]

                let loss =
                    MultiTaskCriterion(tinyAllTasks.Tasks).Compute(m.forward (input, asrInput), t)

                loss.Total.backward ()

                for struct (name, p) in m.named_parameters () do
                    Expect.isNotNull p.grad $"{name} has a gradient"
                    Expect.isGreaterThan (p.grad.abs().sum().item<float32>()) 0.0f $"{name} gradient is non-zero"
            }

            test "save then load gives identical outputs" {
                use _ = torch.NewDisposeScope()
                let input = batch (examples 3 tinyAllTasks [ (6, 5, 4); (4, 3, 2) ])
                let asrInput, _ = targets [ "hi there"; "ok" ] [ 1L; 3L ] (Array.zeroCreate 12)

                let outputs (m: MultiTaskModel) =
                    let o = m.forward (input, asrInput)

                    torch.cat (
                        [|
                            o.AsrLogits.flatten ()
                            o.SpeakerLogits.flatten ()
                            o.EmotionLogits.flatten ()
                            o.Encoder.Fused.flatten ()
                        |],
                        0L
                    )

                let saved = model 6L tinyAllTasks
                let loaded = model 7L tinyAllTasks
                Expect.isGreaterThan (maxAbsDiff (outputs saved) (outputs loaded)) 1e-3 "different seeds differ"
                let path = Path.GetTempFileName()

                try
                    saved.save path |> ignore
                    loaded.load path |> ignore
                    Expect.equal (maxAbsDiff (outputs saved) (outputs loaded)) 0.0 "identical after load"
                finally
                    File.Delete path
            }

            test "overfitting one tiny batch drives the loss down by 90% and greedy decoding reads it back" {
                use _ = torch.NewDisposeScope()
                let config = tinyWith TaskWeights.Pretraining ModalityWeights.Paper
                let m = model 8L config
                m.train ()
                let texts = [ "hello world"; "good day"; "yes"; "the cat sat" ]

                let input =
                    batch (examples 9 config [ (12, 8, 2); (9, 6, 2); (5, 4, 1); (10, 7, 3) ])

                let asrInput, t = targets texts [ 0L; 1L; 2L; 3L ] (Array.zeroCreate 24)
                let criterion = MultiTaskCriterion(config.Tasks)
                let optimizer = torch.optim.Adam(m.parameters (), lr = 3e-3)

                let losses =
                    [
                        for _ in 1..300 ->
                            use _ = torch.NewDisposeScope()
                            optimizer.zero_grad ()
                            let loss = criterion.Compute(m.forward (input, asrInput), t)
                            loss.Total.backward ()
                            optimizer.step () |> ignore
                            loss.Total.item<float32>()
                    ]

                printfn "overfit: first loss %.4f, last loss %.4f" losses.Head (List.last losses)
                Expect.isLessThan (List.last losses) (0.1f * losses.Head) "loss fell by at least 90%"
                m.eval ()
                let decoded = m.Transcribe(input, 20) |> Array.map CharVocabulary.English.Decode
                Expect.sequenceEqual decoded texts "greedy decoding reproduces the transcripts"
            }
        ]
