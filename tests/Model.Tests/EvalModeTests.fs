/// Inference runs with dropout off: embedding extraction, emotion prediction and greedy ASR decoding give the same
/// output twice, equal to the model put in evaluation mode by hand, and leave the model in the mode they found it in.
module Research.Model.Tests.EvalModeTests

open System.IO
open Expecto
open TorchSharp
open Research.Model
open Research.Model.Data
open Research.Model.Embeddings
open Research.Model.Models
open Research.Model.Training
open Research.Model.Tests.Fixtures
open Research.Model.Tests.EmbeddingFixtures
open Research.Model.Tests.Audio.References
open Research.Experiments

/// Dropout large enough that a forward pass left in training mode changes every output.
let private dropout = 0.3

let private lengths = [ 7, 5, 3; 4, 6, 2; 9, 3, 4; 5, 5, 5 ]

/// Every sub-module of `m` is in training mode (`true`) or every one is in evaluation mode (`false`).
let private expectMode (m: torch.nn.Module) (training: bool) (what: string) =
    for struct (name, sub) in m.named_modules () do
        Expect.equal sub.training training $"{what}: module '{name}' back in its previous mode"

    Expect.equal m.training training $"{what}: the model back in its previous mode"

let private setMode (m: torch.nn.Module) (training: bool) =
    if training then m.train () else m.eval ()

[<Tests>]
let tests =
    testSequenced
    <| testList
        "EvalMode"
        [
            test "embedding extraction is deterministic, equals evaluation mode, and restores train or eval mode" {
                withTempDir (fun dir ->
                    let config = tiny.WithDropout dropout
                    let xs = examples 21 config lengths

                    use store =
                        FeatureStore.Open(buildStore (Path.Combine(dir, "store")) (storeItems 21 config lengths))

                    use m = model 3L config
                    let reference = [| for x in xs -> directEmbedding m x true true |]
                    let items = [| 0 .. xs.Length - 1 |]

                    let embed () =
                        EmbeddingExtractor.Embed(m.Encoder, store, items, EmbeddingOptions(BatchSize = 3))
                        |> Seq.map (fun e -> Array.map float e.Mean)
                        |> Array.ofSeq

                    for training in [ true; false ] do
                        setMode m.Encoder training
                        let first = embed ()
                        expectMode m.Encoder training $"after extraction from training={training}"
                        let second = embed ()
                        Expect.equal second first $"two extractions from training={training} are identical"

                        for i in items do
                            Expect.isLessThan
                                (maxDiff first[i] reference[i])
                                1e-5
                                $"item {i}: extraction from training={training} = the encoder in evaluation mode"

                    // The check can fail: the same encoder in training mode, called directly, gives other numbers.
                    m.Encoder.train ()
                    let noisy = directEmbedding m xs[0] true true
                    Expect.isGreaterThan (maxDiff noisy reference[0]) 1e-3 "dropout 0.3 changes a training-mode pass")
            }

            test "emotion prediction (dev/test scoring) is deterministic, equals evaluation mode, and restores the mode" {
                withTempDir (fun dir ->
                    let config =
                        (tinyWith TaskWeights.EmotionOnly ModalityWeights.Paper).WithDropout dropout

                    let xs = examples 22 config lengths

                    let items =
                        storeItems 22 config lengths
                        |> List.mapi (fun i it ->
                            let features =
                                [
                                    for kv in it.Features -> kv.Key, kv.Value
                                    yield CorpusFeatures.Labels, Array2D.init 1 6 (fun _ e -> float32 ((i + e) % 3))
                                ]

                            { it with
                                Features = readOnlyDict features
                            })

                    use store = FeatureStore.Open(buildStore (Path.Combine(dir, "emotion")) items)
                    let data = EmotionData store
                    use m = model 4L config
                    let logits (x: EncoderInput) = m.forward(x, null).EmotionLogits

                    let reference =
                        [|
                            for x in xs ->
                                use _ = torch.no_grad ()
                                Tensors.values ((logits (batch [ x ])).sigmoid()) |> Array.map float
                        |]

                    for training in [ true; false ] do
                        setMode m training
                        let first = FineTune.predict "dev" m logits data torch.CPU 3
                        expectMode m training $"after prediction from training={training}"
                        let second = FineTune.predict "dev" m logits data torch.CPU 3
                        Expect.equal second.Scores first.Scores $"two predictions from training={training} are identical"

                        for i in 0 .. xs.Length - 1 do
                            Expect.isLessThan
                                (maxDiff first.Scores[i] reference[i])
                                1e-5
                                $"item {i}: prediction from training={training} = the model in evaluation mode")
            }

            test "greedy ASR decoding is deterministic, equals evaluation mode, and restores the mode" {
                let config = tiny.WithDropout dropout
                use m = model 5L config
                let input = batch (examples 23 config lengths)
                let maxLength = 12
                let decoder = m.Asr

                let reference, memory, padding =
                    use _ = torch.no_grad ()
                    let enc = m.Encoder.forward input
                    m.Transcribe(input, maxLength), enc.Fused.detach (), enc.Padding

                let greedyReference = decoder.Greedy(memory, padding, maxLength)
                Expect.equal greedyReference reference "Transcribe = encoder then Greedy"

                for training in [ true; false ] do
                    setMode m training
                    let first = m.Transcribe(input, maxLength)
                    expectMode m training $"after Transcribe from training={training}"
                    Expect.equal (m.Transcribe(input, maxLength)) first $"two transcriptions from training={training}"
                    Expect.equal first reference $"Transcribe from training={training} = the model in evaluation mode"

                    setMode decoder training
                    let greedy = decoder.Greedy(memory, padding, maxLength)
                    expectMode decoder training $"after Greedy from training={training}"
                    Expect.equal greedy greedyReference $"Greedy from training={training} = the decoder in evaluation mode"
            }
        ]
