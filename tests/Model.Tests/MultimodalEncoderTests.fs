module Research.Model.Tests.MultimodalEncoderTests

open Expecto
open TorchSharp
open Research.Model
open Research.Model.Tests.Fixtures
open Research.Model.Tests.Tensors
open Research.Model.Models
open Research.Model.Modules

let private fused (m: MultiTaskModel) (xs: Example list) = m.Encoder.forward(batch xs).Fused

/// Item 1 of a two-item batch versus the same example alone: equal on its real audio frames.
let private paddingInvariant (lengths: (int * int * int) list) =
    use _ = torch.NewDisposeScope()
    let m = model 1L tinyAllTasks
    let xs = examples 7 tinyAllTasks lengths
    let audioLength = let (a, _, _) = lengths[1] in int64 a
    let together = (fused m xs).narrow(0, 1L, 1L).narrow(1, 0L, audioLength)
    let alone = fused m [ xs[1] ]
    Expect.isLessThan (maxAbsDiff together alone) 1e-5 "fused output on real frames"

    let heads (ys: Example list) (item: int64) =
        let out = m.forward (batch ys, null)
        torch.cat([| out.SpeakerLogits; out.EmotionLogits |], 1L).narrow(0, item, 1L)

    Expect.isLessThan (maxAbsDiff (heads xs 1L) (heads [ xs[1] ] 0L)) 1e-5 "pooled heads"

[<Tests>]
let tests =
    testSequenced
    <| testList
        "MultimodalEncoder"
        [
            test "audio padding changes nothing on real frames" { paddingInvariant [ (9, 5, 4); (5, 5, 4) ] }
            test "video padding changes nothing" { paddingInvariant [ (6, 9, 4); (6, 5, 4) ] }
            test "text padding changes nothing" { paddingInvariant [ (6, 5, 7); (6, 5, 3) ] }

            test "the garbage in padded positions would change the output if it were not masked" {
                use _ = torch.NewDisposeScope()
                let m = model 1L tiny
                let input = batch (examples 7 tiny [ (6, 9, 7); (6, 5, 3) ])

                let unmask (s: Sequence) =
                    Sequence(s.Features, torch.zeros_like s.Padding)

                let masked = m.Encoder.forward(input).Fused

                let unmasked =
                    m.Encoder.forward(EncoderInput(input.Audio, unmask input.Video, unmask input.Text)).Fused

                Expect.isGreaterThan (maxAbsDiff masked unmasked) 1e-2 "masks matter on this data"
            }

            test "padded audio frames of the output are zero" {
                use _ = torch.NewDisposeScope()
                let m = model 1L tiny
                let out = m.Encoder.forward (batch (examples 3 tiny [ (8, 5, 4); (3, 5, 4) ]))
                Expect.equal (out.Fused.narrow(0, 1L, 1L).narrow(1, 3L, 5L).abs().sum().item<float32>()) 0.0f "zeros"
            }

            test "a zero video weight makes the output independent of video, which may be absent" {
                use _ = torch.NewDisposeScope()
                let m = model 2L tiny
                let a = batch (examples 11 tiny [ (6, 7, 4); (4, 3, 2) ])
                let b = batch (examples 12 tiny [ (6, 9, 4); (4, 2, 2) ])
                let withVideo (v: Sequence) = EncoderInput(a.Audio, v, a.Text)

                Expect.isGreaterThan
                    (maxAbsDiff (m.Encoder.forward(withVideo a.Video).Fused) (m.Encoder.forward(withVideo b.Video).Fused))
                    1e-3
                    "video matters at weight 0.4"

                m.Encoder.Weights <- ModalityWeights(0.4, 0.0, 0.2)
                let reference = m.Encoder.forward(withVideo a.Video).Fused
                Expect.equal (maxAbsDiff reference (m.Encoder.forward(withVideo b.Video).Fused)) 0.0 "other video"
                Expect.equal (maxAbsDiff reference (m.Encoder.forward(withVideo null).Fused)) 0.0 "no video"
            }

            test "a zero text weight makes the output independent of text, which may be absent" {
                use _ = torch.NewDisposeScope()
                let m = model 2L tiny
                let a = batch (examples 11 tiny [ (6, 7, 4); (4, 3, 2) ])
                let b = batch (examples 12 tiny [ (6, 7, 5); (4, 3, 1) ])
                let withText (t: Sequence) = EncoderInput(a.Audio, a.Video, t)

                Expect.isGreaterThan
                    (maxAbsDiff (m.Encoder.forward(withText a.Text).Fused) (m.Encoder.forward(withText b.Text).Fused))
                    1e-3
                    "text matters at weight 0.2"

                m.Encoder.Weights <- ModalityWeights(0.4, 0.4, 0.0)
                let reference = m.Encoder.forward(withText a.Text).Fused
                Expect.equal (maxAbsDiff reference (m.Encoder.forward(withText b.Text).Fused)) 0.0 "other text"
                Expect.equal (maxAbsDiff reference (m.Encoder.forward(withText null).Fused)) 0.0 "no text"
            }

            test "audio alone: both other weights zero, both inputs absent" {
                use _ = torch.NewDisposeScope()
                let m = model 2L tiny
                let a = batch (examples 11 tiny [ (6, 7, 4) ])
                m.Encoder.Weights <- ModalityWeights(1.0, 0.0, 0.0)
                let out = m.Encoder.forward (EncoderInput(a.Audio, null, null))
                Expect.equal (maxAbsDiff out.Fused out.Audio) 0.0 "fused = audio stream"
                Expect.isNull out.Video "no video stream"
            }

            test "a branch whose weight is 0 in the config is not built, and cannot be switched on" {
                let m = model 3L (tinyWith TaskWeights.Pretraining (ModalityWeights(0.5, 0.0, 0.5)))
                let names = [ for struct (n, _) in m.named_parameters () -> n ]
                Expect.isFalse (names |> List.exists (fun n -> n.StartsWith "encoder.video")) "no video parameters"
                Expect.isTrue (names |> List.exists (fun n -> n.StartsWith "encoder.text")) "text parameters"
                Expect.throws (fun () -> m.Encoder.Weights <- ModalityWeights.Paper) "video weight > 0 without a branch"
            }

            test "a positive weight with no input, or an item with no frames, is a clear error" {
                use _ = torch.NewDisposeScope()
                let m = model 2L tiny
                let a = batch (examples 11 tiny [ (6, 7, 4); (4, 3, 2) ])

                Expect.throwsC (fun () -> m.Encoder.forward (EncoderInput(a.Audio, null, a.Text)) |> ignore) (fun e ->
                    Expect.stringContains e.Message "no video" "names the modality")

                let emptyText =
                    Sequence(a.Text.Features, a.Text.Padding.index_fill (0L, longs [| 1L |], true))

                Expect.throwsC (fun () -> m.Encoder.forward (EncoderInput(a.Audio, a.Video, emptyText)) |> ignore) (fun e ->
                    Expect.stringContains e.Message "item(s) 1" "names the item")

                let wrongDim = Sequence(torch.randn (2L, 7L, 13L), a.Video.Padding)

                Expect.throwsC (fun () -> m.Encoder.forward (EncoderInput(a.Audio, wrongDim, a.Text)) |> ignore) (fun e ->
                    Expect.stringContains e.Message "video: expected features of shape (Batch, Length, 12)" "names the shape")
            }
        ]
