module Research.Model.Tests.LateFusionModelTests

open System.IO
open Expecto
open TorchSharp
open Research.Model
open Research.Model.Tests.Fixtures
open Research.Model.Tests.Tensors
open Research.Model.Models
open Research.Model.Modules
open Research.Model.Training

/// A late-fusion configuration with the tiny transformer's input sizes (so Fixtures.examples fits it), the given
/// modalities and GRU layers; dropout off.
let tinyLateWith (audio: bool, video: bool, text: bool) (layers: int) =
    LateFusionConfig(
        AudioDim = tiny.AudioDim,
        VideoDim = tiny.VideoDim,
        TextDim = tiny.TextDim,
        Hidden = 8,
        Layers = layers,
        FusionDim = 7,
        Dropout = 0.0,
        UseAudio = audio,
        UseVideo = video,
        UseText = text
    )

/// All three modalities, two GRU layers.
let tinyLate = tinyLateWith (true, true, true) 2

let private lateModel (seed: int64) (config: LateFusionConfig) =
    torch.manual_seed seed |> ignore
    let m = new LateFusionModel(config)
    m.eval ()
    m

/// Parameter count from the paper's description, independent of the implementation: per GRU layer and direction
/// three gates, each with input and recurrent weights and two biases.
module ClosedForm =
    let gruLayerDirection (input: int64) (hidden: int64) =
        3L * (input * hidden + hidden * hidden + 2L * hidden)

    let biGru (input: int64) (hidden: int64) (layers: int) =
        2L * gruLayerDirection input hidden
        + int64 (layers - 1) * 2L * gruLayerDirection (2L * hidden) hidden

    let count (c: LateFusionConfig) =
        let h = int64 c.Hidden

        let gru (used: bool) (dim: int) =
            if used then biGru (int64 dim) h c.Layers else 0L

        let used =
            [ c.UseAudio; c.UseVideo; c.UseText ] |> List.filter id |> List.length |> int64

        let fusedIn = used * 2L * h

        gru c.UseAudio c.AudioDim
        + gru c.UseVideo c.VideoDim
        + gru c.UseText c.TextDim
        + (fusedIn * int64 c.FusionDim + int64 c.FusionDim)
        + (int64 c.FusionDim * int64 c.Emotions + int64 c.Emotions)

let private parameterCount (m: torch.nn.Module) =
    m.parameters () |> Seq.sumBy (fun p -> p.numel ())

let private emotions (n: int) =
    floats [ int64 n; 6L ] [| for i in 0 .. n * 6 - 1 -> if (i * 7 + i / 6) % 3 = 0 then 1f else 0f |] false

/// Each item of a batch, run with garbage in its padded positions, against the same example alone.
let private paddingInvariant (lengths: (int * int * int) list) =
    use _ = torch.NewDisposeScope()
    let m = lateModel 1L tinyLate
    let xs = examples 7 tiny lengths
    let together = m.forward (batch xs)

    for i in 0 .. xs.Length - 1 do
        let alone = m.forward (batch [ xs[i] ])
        Expect.isLessThan (maxAbsDiff (together.narrow (0L, int64 i, 1L)) alone) 1e-5 $"item {i}"

[<Tests>]
let tests =
    testSequenced
    <| testList
        "LateFusionModel"
        [
            test "logits are (batch, 6)" {
                use _ = torch.NewDisposeScope()
                let m = lateModel 1L tinyLate
                let out = m.forward (batch (examples 2 tiny [ (6, 5, 4); (4, 3, 2); (5, 5, 1) ]))
                Expect.sequenceEqual out.shape [| 3L; 6L |] "shape"
            }

            // Lengths unsorted on purpose: packing sorts the batch and must give the states back in its order.
            test "audio padding changes nothing" { paddingInvariant [ (5, 5, 4); (9, 5, 4); (7, 5, 4) ] }
            test "video padding changes nothing" { paddingInvariant [ (6, 4, 4); (6, 9, 4); (6, 6, 4) ] }
            test "text padding changes nothing" { paddingInvariant [ (6, 5, 2); (6, 5, 7); (6, 5, 5) ] }

            test "the garbage in padded positions would change the logits if padding were ignored" {
                use _ = torch.NewDisposeScope()
                let m = lateModel 1L tinyLate
                let input = batch (examples 7 tiny [ (9, 9, 7); (5, 4, 3) ])
                let masked = m.forward input

                let unmask (s: Sequence) =
                    Sequence(s.Features, torch.zeros_like s.Padding)

                for name, unmasked in
                    [
                        "audio", EncoderInput(unmask input.Audio, input.Video, input.Text)
                        "video", EncoderInput(input.Audio, unmask input.Video, input.Text)
                        "text", EncoderInput(input.Audio, input.Video, unmask input.Text)
                    ] do
                    Expect.isGreaterThan (maxAbsDiff masked (m.forward unmasked)) 1e-2 $"{name} padding matters on this data"
            }

            test "the summary is the forward output at the last step and the backward output at step 0" {
                use _ = torch.NewDisposeScope()
                torch.manual_seed 4L |> ignore
                let encoder = new BiGruEncoder("e", "audio", 10L, 8L, 2L, 0.0)
                encoder.eval ()
                let x = torch.randn (1L, 7L, 10L)

                let summary =
                    encoder.forward (x, torch.zeros (1L, 7L, dtype = torch.ScalarType.Bool))

                let gru =
                    encoder.named_children ()
                    |> Seq.pick (fun struct (n, child) -> if n = "gru" then Some(child :?> Modules.GRU) else None)

                let struct (outputs, _) = gru.forward (x, null) // (1, 7, 16), unpacked: [forward; backward] per step
                let forwardAtLast = outputs.select(0, 0L).select(0, 6L).narrow(0L, 0L, 8L)
                let backwardAtFirst = outputs.select(0, 0L).select(0, 0L).narrow(0L, 8L, 8L)
                let expected = torch.cat([| forwardAtLast; backwardAtFirst |], 0L).unsqueeze 0L
                Expect.isLessThan (maxAbsDiff summary expected) 1e-6 "last-step outputs of both directions"
            }

            // StreamedBiGru against libtorch's packed GRU on the same weights: lengths unsorted, every modality the
            // longest in some batch (the streams' order changes), a length-1 item, two and three layers, and subsets of
            // the modalities; logits and every parameter's gradient in train mode (dropout off, so both are exact).
            test "the streamed recurrence computes what libtorch's packed GRU computes, gradients included" {
                use _ = torch.NewDisposeScope()

                let cases =
                    [
                        tinyLate, [ (9, 5, 4); (3, 7, 1); (6, 2, 6) ]
                        tinyLate, [ (2, 9, 3); (5, 4, 2); (1, 1, 1) ]
                        tinyLateWith (true, true, true) 3, [ (4, 5, 9); (7, 3, 2) ]
                        tinyLateWith (true, false, true) 2, [ (8, 5, 4); (3, 7, 8) ]
                        tinyLateWith (false, true, false) 1, [ (5, 6, 4); (5, 2, 4) ]
                    ]

                for config, lengths in cases do
                    let m = lateModel 3L config
                    m.train ()
                    let input = batch (examples 12 tiny lengths)

                    let run (torchGru: bool) =
                        m.UseTorchGru <- torchGru
                        m.zero_grad ()
                        let logits = m.forward input
                        (logits * logits).sum().backward()

                        logits.detach (), [ for struct (n, p) in m.named_parameters () -> n, p.grad.detach().clone() ]

                    let streamedLogits, streamedGrads = run false
                    let torchLogits, torchGrads = run true

                    let what =
                        $"{config.Layers} layers, {config.ModalityCount} modalities, lengths {lengths}"

                    Expect.isLessThan (maxAbsDiff streamedLogits torchLogits) 1e-5 $"logits: {what}"

                    for (name, g), (_, reference) in List.zip streamedGrads torchGrads do
                        let scale = reference.abs().max().item<float32>() |> float
                        Expect.isGreaterThan scale 0.0 $"{name} has a gradient to compare ({what})"
                        Expect.isLessThan (maxAbsDiff g reference / scale) 1e-4 $"{name} gradient: {what}"

                    m.UseTorchGru <- false
            }

            test "the streamed recurrence applies dropout between layers in training only" {
                use _ = torch.NewDisposeScope()
                torch.manual_seed 9L |> ignore
                let x = batch (examples 5 tiny [ (6, 5, 4); (4, 3, 2) ])

                let summaries (layers: int64) (training: bool) =
                    torch.manual_seed 10L |> ignore
                    let e = new BiGruEncoder("e", "audio", int64 tiny.AudioDim, 8L, layers, 0.5)
                    let inputs = [| e.Checked(x.Audio.Features, x.Audio.Padding) |]

                    let run () =
                        (StreamedBiGru.Summaries(inputs, 8L, layers, e.Dropout, training)[0])

                    run (), run ()

                let a, b = summaries 2L false
                Expect.equal (maxAbsDiff a b) 0.0 "eval: deterministic"
                let c, d = summaries 2L true
                Expect.isGreaterThan (maxAbsDiff c d) 1e-4 "train: the masks differ between calls"
                Expect.isGreaterThan (maxAbsDiff a c) 1e-4 "train differs from eval"
                let e, f = summaries 1L true
                let g, _ = summaries 1L false
                Expect.equal (maxAbsDiff e f) 0.0 "one layer: no dropout"
                Expect.equal (maxAbsDiff e g) 0.0 "one layer: train = eval"
            }

            test "the paper configuration has the closed-form parameter count" {
                let m = new LateFusionModel(LateFusionConfig.Paper)
                let count = parameterCount m
                printfn "late fusion, paper configuration: %d parameters" count
                Expect.equal count (ClosedForm.count LateFusionConfig.Paper) "paper config"
                Expect.equal count 8530306L "by hand: 1,204,800 + 5,880,000 + 1,324,800 (GRUs) + 120,100 + 606"
            }

            test "parameter counts follow the modalities in use, and an unused modality may be absent" {
                use _ = torch.NewDisposeScope()

                for c in
                    [
                        tinyLate
                        tinyLateWith (true, false, true) 2
                        tinyLateWith (false, true, false) 3
                    ] do
                    let m = lateModel 2L c
                    Expect.equal (parameterCount m) (ClosedForm.count c) $"{c}"

                let noVideo = lateModel 2L (tinyLateWith (true, false, true) 2)
                let names = [ for struct (n, _) in noVideo.named_parameters () -> n ]
                Expect.isFalse (names |> List.exists (fun n -> n.StartsWith "video")) "no video parameters"
                let input = batch (examples 3 tiny [ (6, 5, 4); (4, 3, 2) ])

                Expect.equal
                    (maxAbsDiff (noVideo.forward input) (noVideo.forward (EncoderInput(input.Audio, null, input.Text))))
                    0.0
                    "video ignored"
            }

            test "a used modality without input, an empty item or leading padding is a clear error" {
                use _ = torch.NewDisposeScope()
                let m = lateModel 2L tinyLate
                let a = batch (examples 11 tiny [ (6, 7, 4); (4, 3, 2) ])

                Expect.throwsC (fun () -> m.forward (EncoderInput(a.Audio, null, a.Text)) |> ignore) (fun e ->
                    Expect.stringContains e.Message "no video" "names the modality")

                let emptyText =
                    Sequence(a.Text.Features, a.Text.Padding.index_fill (0L, longs [| 1L |], true))

                Expect.throwsC (fun () -> m.forward (EncoderInput(a.Audio, a.Video, emptyText)) |> ignore) (fun e ->
                    Expect.stringContains e.Message "item(s) 1" "names the item")

                let leading = Sequence(a.Audio.Features, a.Audio.Padding.flip (1L))

                Expect.throwsC (fun () -> m.forward (EncoderInput(leading, a.Video, a.Text)) |> ignore) (fun e ->
                    Expect.stringContains e.Message "audio: item(s) 1 have padding before valid steps" "names modality and item")

                Expect.throws
                    (fun () ->
                        new LateFusionModel(LateFusionConfig(UseAudio = false, UseVideo = false, UseText = false))
                        |> ignore)
                    "no modality"
            }

            test "every parameter receives a gradient" {
                use _ = torch.NewDisposeScope()
                let m = lateModel 5L tinyLate
                m.train ()
                let input = batch (examples 3 tiny [ (6, 5, 4); (4, 3, 2) ])

                let loss =
                    MultiTaskCriterion(TaskWeights.EmotionOnly)
                        .Compute((m :> ITaskModel).Forward(input, null), Targets(null, null, null, emotions 2))

                loss.Total.backward ()

                for struct (name, p) in m.named_parameters () do
                    Expect.isNotNull p.grad $"{name} has a gradient"
                    Expect.isGreaterThan (p.grad.abs().sum().item<float32>()) 0.0f $"{name} gradient is non-zero"
            }

            test "TrainStep with BCE overfits one tiny batch: loss down by 90%" {
                use _ = torch.NewDisposeScope()
                let m = lateModel 8L tinyLate

                let input = batch (examples 9 tiny [ (12, 8, 2); (9, 6, 2); (5, 4, 1); (10, 7, 3) ])

                let targets = Targets(null, null, null, emotions 4)
                // lr(n) = 0.03 / √n: the Speech-Transformer schedule with d = 1 and no warm-up.
                let step =
                    TrainStep(m, MultiTaskCriterion(TaskWeights.EmotionOnly), LearningRateSchedule(0.03, 1, 1))

                let losses = [ for _ in 1..150 -> step.Run(input, targets).Total ]
                printfn "late fusion overfit: first loss %.4f, last loss %.4f" losses.Head (List.last losses)
                Expect.isLessThan (List.last losses) (0.1 * losses.Head) "loss fell by at least 90%"
            }

            test "save then load gives identical logits" {
                use _ = torch.NewDisposeScope()
                let input = batch (examples 3 tiny [ (6, 5, 4); (4, 3, 2) ])
                let saved = lateModel 6L tinyLate
                let loaded = lateModel 7L tinyLate
                Expect.isGreaterThan (maxAbsDiff (saved.forward input) (loaded.forward input)) 1e-3 "different seeds differ"
                let path = Path.GetTempFileName()

                try
                    saved.save path |> ignore
                    loaded.load path |> ignore
                    Expect.equal (maxAbsDiff (saved.forward input) (loaded.forward input)) 0.0 "identical after load"
                finally
                    File.Delete path
            }

            test "both models answer ITaskModel.EmotionLogits as their forward does" {
                use _ = torch.NewDisposeScope()
                let input = batch (examples 3 tiny [ (6, 5, 4); (4, 3, 2) ])
                let late = lateModel 1L tinyLate
                Expect.equal (maxAbsDiff ((late :> ITaskModel).EmotionLogits input) (late.forward input)) 0.0 "late fusion"
                let transformer = model 1L tinyAllTasks

                Expect.equal
                    (maxAbsDiff ((transformer :> ITaskModel).EmotionLogits input) (transformer.forward(input, null).EmotionLogits))
                    0.0
                    "transformer"

                Expect.throws (fun () -> (model 1L tiny).EmotionLogits input |> ignore) "no emotion head"
            }
        ]
