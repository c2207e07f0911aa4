module Research.Model.Tests.MultiTaskCriterionTests

open Expecto
open TorchSharp
open Research.Model
open Research.Model.Tests.Tensors
open Research.Model.Models

let private encoderStub () =
    EncoderOutput(torch.zeros (2L, 3L, 4L), torch.zeros (2L, 3L, dtype = torch.ScalarType.Bool), torch.zeros (2L, 3L, 4L), null, null)

[<Tests>]
let tests =
    testSequenced
    <| testList
        "MultiTaskCriterion"
        [
            test "terms match hand-written formulas and the total is their weighted sum" {
                use _ = torch.NewDisposeScope()
                torch.manual_seed 3L |> ignore
                let asrLogits = torch.randn (2L, 4L, 7L)
                // Item 1 is shorter: its last two targets are padding and must not count.
                let asrTarget = (longs [| 4L; 5L; 6L; 2L; 4L; 2L; 0L; 0L |]).reshape(2L, 4L)
                let spkLogits = torch.randn (2L, 5L)
                let speakers = longs [| 3L; 0L |]
                let emoLogits = torch.randn (2L, 6L)

                let emotions =
                    floats [ 2L; 6L ] [| 1f; 0f; 0f; 1f; 0f; 0f; 0f; 1f; 1f; 0f; 0f; 1f |] false

                let posWeights = floats [ 6L ] [| 1f; 2f; 3f; 4f; 5f; 6f |] false
                let output = ModelOutput(encoderStub (), asrLogits, spkLogits, emoLogits)

                let loss =
                    MultiTaskCriterion(TaskWeights(0.8, 0.2, 0.5), 0.0, posWeights)
                        .Compute(output, Targets(null, asrTarget, speakers, emotions))
                // Cross-entropy by hand: mean over the 6 real positions of -log softmax at the target.
                let logp = asrLogits.log_softmax(-1).reshape(8L, 7L)

                let asrByHand =
                    [
                        for i, t in Seq.indexed (values asrTarget) do
                            if t <> 0f then
                                yield -(logp[int64 i, int64 t].item<float32>())
                    ]
                    |> List.average

                Expect.floatClose Accuracy.medium (float (loss.Asr.item<float32>())) (float asrByHand) "ASR cross-entropy ignores padding"
                let spkLogp = spkLogits.log_softmax (-1)

                let spkByHand =
                    -(spkLogp[0L, 3L].item<float32>() + spkLogp[1L, 0L].item<float32>()) / 2f

                Expect.floatClose Accuracy.medium (float (loss.Speaker.item<float32>())) (float spkByHand) "speaker cross-entropy"
                // BCE with positive weights: -(w·y·log σ(x) + (1-y)·log(1-σ(x))), mean over all entries.
                let x, y, w = values emoLogits, values emotions, values posWeights
                let sigmoid v = 1.0 / (1.0 + exp (-v))

                let bceByHand =
                    [
                        for i in 0..11 ->
                            let s = sigmoid (float x[i])
                            -(float w[i % 6] * float y[i] * log s + (1.0 - float y[i]) * log (1.0 - s))
                    ]
                    |> List.average

                Expect.floatClose Accuracy.medium (float (loss.Emotion.item<float32>())) bceByHand "emotion BCE with positive weights"
                let total = 0.8 * float asrByHand + 0.2 * float spkByHand + 0.5 * bceByHand
                Expect.floatClose Accuracy.medium (float (loss.Total.item<float32>())) total "weighted total"
            }

            test "a zero weight computes no term and needs no head or target" {
                use _ = torch.NewDisposeScope()
                let output = ModelOutput(encoderStub (), null, torch.randn (2L, 5L), null)

                let loss =
                    MultiTaskCriterion(TaskWeights(0.0, 1.0, 0.0)).Compute(output, Targets(null, null, longs [| 1L; 2L |], null))

                Expect.isNull loss.Asr "no ASR term"
                Expect.isNull loss.Emotion "no emotion term"
                Expect.equal (loss.Total.item<float32>()) (loss.Speaker.item<float32>()) "total = speaker term"
            }

            test "a positive weight without its targets is a clear error" {
                let output = ModelOutput(encoderStub (), null, torch.randn (2L, 5L), null)

                Expect.throwsC
                    (fun () ->
                        MultiTaskCriterion(TaskWeights.Pretraining).Compute(output, Targets(null, null, null, null))
                        |> ignore)
                    (fun e -> Expect.stringContains e.Message "ASR" "names the task")
            }

            test "CTC equals the sum over all alignments, enumerated by brute force" {
                use _ = torch.NewDisposeScope()
                torch.manual_seed 5L |> ignore
                // 2 utterances, 5 frames, 4 symbols (0 = blank = pad); item 1 has 4 valid frames.
                let logits = torch.randn (2L, 5L, 4L)

                let padding =
                    torch.tensor ([| false; false; false; false; false; false; false; false; false; true |], [| 2L; 5L |])

                // ASR targets: characters, the end symbol (2 here), then pads.
                let target = (longs [| 3L; 3L; 2L; 1L; 2L; 0L |]).reshape(2L, 3L)
                let ours = MultiTaskCriterion.Ctc(logits, padding, target).item<float32>() |> float
                let p = logits.softmax (-1)

                let prob (b: int64) (t: int64) (c: int64) = p.[b, t, c].item<float32>() |> float

                let collapse (path: int64 list) =
                    path
                    |> List.fold (fun (out, prev) c -> ((if c <> prev && c <> 0L then c :: out else out), c)) ([], -1L)
                    |> fst
                    |> List.rev

                let rec paths length =
                    if length = 0 then
                        [ [] ]
                    else
                        [
                            for rest in paths (length - 1) do
                                for c in 0L .. 3L -> c :: rest
                        ]

                let nll (b: int64) (frames: int) (label: int64 list) =
                    let total =
                        paths frames
                        |> List.filter (fun path -> collapse path = label)
                        |> List.sumBy (fun path -> path |> List.mapi (fun t c -> prob b (int64 t) c) |> List.reduce (*))

                    -log total

                // torch's 'mean' reduction divides each loss by its target length, then averages over the batch.
                let expected = (nll 0L 5 [ 3L; 3L ] / 2.0 + nll 1L 4 [ 1L ] / 1.0) / 2.0
                Expect.floatClose { absolute = 1e-5; relative = 1e-5 } ours expected "CTC = brute force"
                // Two outputs per frame (the model's CTC head): 6 outputs over 3 frames, item 1 has 2 valid frames.
                let padding3 =
                    torch.tensor ([| false; false; false; false; false; true |], [| 2L; 3L |])

                let logits6 = logits.narrow(1L, 0L, 3L).repeat(1L, 2L, 1L)
                let p6 = logits6.softmax (-1)

                let ours6 =
                    MultiTaskCriterion.Ctc(logits6, padding3, target).item<float32>() |> float

                let nll6 (b: int64) (outputs: int) (label: int64 list) =
                    paths outputs
                    |> List.filter (fun path -> collapse path = label)
                    |> List.sumBy (fun path ->
                        path
                        |> List.mapi (fun t c -> p6.[b, int64 t, c].item<float32>() |> float)
                        |> List.reduce (*))
                    |> log
                    |> (~-)

                let expected6 = (nll6 0L 6 [ 3L; 3L ] / 2.0 + nll6 1L 4 [ 1L ] / 1.0) / 2.0
                Expect.floatClose { absolute = 1e-5; relative = 1e-5 } ours6 expected6 "CTC with 2 outputs per frame"
            }
        ]
