/// The encoder's options beyond the paper: the any-subset encoder with modality dropout, and learned modality weights.
module Research.Model.Tests.EncoderOptionsTests

open System
open System.IO
open Expecto
open TorchSharp
open Research.Model
open Research.Model.Tests.Fixtures
open Research.Model.Tests.Tensors
open Research.Model.Models
open Research.Model.Training

let private anySubset (c: ModelConfig) = c.WithAnySubset(true, 0.0)

/// The seven non-empty subsets of (audio, video, text).
let private subsets =
    [
        for a in [ true; false ] do
            for v in [ true; false ] do
                for t in [ true; false ] do
                    if a || v || t then
                        a, v, t
    ]

let private name (a, v, t) =
    [ (if a then "A" else ""); (if v then "V" else ""); (if t then "T" else "") ]
    |> List.filter ((<>) "")
    |> String.concat "+"

/// The input with absent modalities replaced by `absent` (null, or a garbage sequence of the same shape).
let private keep (a, v, t) (absent: Sequence -> Sequence) (input: EncoderInput) =
    EncoderInput(
        (if a then input.Audio else absent input.Audio),
        (if v then input.Video else absent input.Video),
        (if t then input.Text else absent input.Text)
    )

let private nullSequence (_: Sequence) : Sequence = null

/// NaN features and a padding mask that says every step is valid: read at all, it poisons the output.
let private nanSequence (s: Sequence) =
    Sequence(torch.full_like (s.Features, Double.NaN), torch.zeros_like s.Padding)

let private isFinite (t: torch.Tensor) = t.isfinite().all().item<bool>()

/// Same shape and bit-for-bit equal values (NaN equals nothing).
let private same (a: torch.Tensor) (b: torch.Tensor) =
    a.shape = b.shape && a.eq(b).all().item<bool>()

let private logits (m: MultiTaskModel) =
    m.Encoder.named_parameters ()
    |> Seq.find (fun struct (n, _) -> n = "modality_logits")
    |> fun struct (_, p) -> p

[<Tests>]
let tests =
    testSequenced
    <| testList
        "Encoder options"
        [
            test "any-subset: every one of the 7 subsets runs with null absent inputs; finite output on the right axis" {
                use _ = torch.NewDisposeScope()
                let m = model 3L (anySubset tinyAllTasks)
                // audio 9 and 6 frames, video 5 and 7, text 4 and 3 words: each axis has its own length
                let input = batch (examples 5 tinyAllTasks [ (9, 5, 4); (6, 7, 3) ])

                for (a, v, t) as s in subsets do
                    let out = m.forward (keep s nullSequence input, null)
                    let enc = out.Encoder

                    let axis =
                        if a then input.Audio
                        elif v then input.Video
                        else input.Text

                    Expect.equal enc.Fused.shape [| 2L; axis.Padding.shape[1]; 16L |] $"{name s}: (B, T of the query axis, D)"
                    Expect.isTrue (same enc.Padding axis.Padding) $"{name s}: the query axis's padding"
                    Expect.isTrue (isFinite enc.Fused) $"{name s}: finite embedding"
                    Expect.isTrue (isFinite out.SpeakerLogits && isFinite out.EmotionLogits) $"{name s}: finite heads"
                    Expect.equal (isNull enc.Audio, isNull enc.Video, isNull enc.Text) (not a, not v, not t) $"{name s}: streams"

                    let valid = enc.Padding.logical_not().unsqueeze(-1)

                    Expect.equal
                        (enc.Fused.masked_select(valid.logical_not().expand_as enc.Fused).abs().sum().item<float32>())
                        0.0f
                        $"{name s}: padded steps are zero"
            }

            test "any-subset: the embedding of a subset ignores absent inputs (NaN there = null there), on every subset" {
                use _ = torch.NewDisposeScope()
                let m = model 4L (anySubset tiny)
                let input = batch (examples 6 tiny [ (8, 6, 5); (5, 4, 2) ])

                for (a, v, t) as s in subsets do
                    let w = ModalityWeights.Paper
                    let withNull = m.Encoder.forward(keep s nullSequence input).Fused
                    // Absent by weight: the inputs are there, full of NaN, marked valid.
                    m.Encoder.Weights <-
                        ModalityWeights((if a then w.Audio else 0.0), (if v then w.Video else 0.0), (if t then w.Text else 0.0))

                    let withNan = m.Encoder.forward(keep s nanSequence input).Fused
                    m.Encoder.Weights <- w
                    Expect.isTrue (isFinite withNull) $"{name s}: finite"
                    Expect.isTrue (same withNull withNan) $"{name s}: identical with NaN or null absent inputs"
            }

            test "any-subset: a present modality changes the embedding of every subset that has it (no stream is ignored)" {
                use _ = torch.NewDisposeScope()
                let m = model 4L (anySubset tiny)
                let x = batch (examples 6 tiny [ (8, 6, 5); (5, 4, 2) ])
                let y = batch (examples 7 tiny [ (8, 6, 5); (5, 4, 2) ])

                for (a, v, t) as s in subsets do
                    let input = keep s nullSequence x
                    let reference = m.Encoder.forward(input).Fused

                    for present, swap in
                        [
                            a, EncoderInput(y.Audio, input.Video, input.Text)
                            v, EncoderInput(input.Audio, (if v then y.Video else null), input.Text)
                            t, EncoderInput(input.Audio, input.Video, (if t then y.Text else null))
                        ] do
                        if present then
                            Expect.isGreaterThan (maxAbsDiff reference (m.Encoder.forward(swap).Fused)) 1e-4 $"{name s}"
            }

            test "any-subset with all of A+V+T is the paper's encoder, bit for bit (same seed, weights summing to 1)" {
                use _ = torch.NewDisposeScope()
                let input = batch (examples 8 tiny [ (7, 5, 4); (4, 3, 2) ])
                let paper = (model 9L tiny).Encoder.forward(input).Fused
                let any = (model 9L (anySubset tiny)).Encoder.forward(input).Fused
                Expect.isTrue (same paper any) "identical"
            }

            test "options off: the encoder is exactly 0.4·audio + 0.4·video + 0.2·text of its branches, queried by audio" {
                use _ = torch.NewDisposeScope()
                let m = model 10L tiny
                let input = batch (examples 9 tiny [ (7, 5, 4); (4, 3, 2) ])
                let e = m.Encoder
                let a = e.Audio.forward (input.Audio.Features, input.Audio.Padding)

                let v =
                    e.Video.forward (a, input.Audio.Padding, input.Video.Features, input.Video.Padding)

                let t =
                    e.Text.forward (a, input.Audio.Padding, input.Text.Features, input.Text.Padding)

                let expected = a * 0.4 + v * 0.4 + t * 0.2
                Expect.isTrue (same (e.forward(input).Fused) expected) "bit for bit"
                Expect.throws (fun () -> e.forward (EncoderInput(null, input.Video, input.Text)) |> ignore) "needs audio"
                Expect.equal (Seq.length (m.named_parameters ())) (Seq.length ((model 10L tiny).named_parameters())) "same"

                Expect.isFalse
                    (m.named_parameters ()
                     |> Seq.exists (fun struct (n, _) -> n.Contains "substitute_norm" || n.Contains "modality_logits"))
                    "no parameter of the options"
            }

            test "any-subset: no modality present is an error naming the weights and inputs" {
                use _ = torch.NewDisposeScope()
                let m = model 3L (anySubset tiny)
                let input = batch (examples 5 tiny [ (4, 3, 2) ])
                m.Encoder.Weights <- ModalityWeights(0.0, 0.4, 0.0)

                let e =
                    Expect.throwsC (fun () -> m.Encoder.forward (EncoderInput(input.Audio, null, input.Text)) |> ignore) id

                Expect.stringContains e.Message "no modality is present" "message"
            }

            test "modality dropout: never drops all, drops each present one at about the configured rate, off in eval" {
                use _ = torch.NewDisposeScope()
                let m = model 3L (tiny.WithAnySubset(true, 0.5))
                let input = batch (examples 5 tiny [ (4, 3, 2) ])
                m.train ()
                torch.manual_seed 1L |> ignore
                let n = 400

                let draws =
                    [
                        for _ in 1..n do
                            use _ = torch.NewDisposeScope()
                            let e = m.Encoder.forward input
                            not (isNull e.Audio), not (isNull e.Video), not (isNull e.Text)
                    ]

                Expect.isFalse (draws |> List.contains (false, false, false)) "never all dropped"
                // P(kept) = 0.5 / (1 − 0.5³) = 4/7 ≈ 0.571 per modality; ± 0.08 is > 3 standard deviations at n = 400
                for i, pick in
                    [
                        "audio", (fun (a, _, _) -> a)
                        "video", (fun (_, v, _) -> v)
                        "text", (fun (_, _, t) -> t)
                    ] do
                    let rate = float (draws |> List.filter pick |> List.length) / float n
                    Expect.isLessThan (abs (rate - 4.0 / 7.0)) 0.08 $"{i} kept at {rate}"

                Expect.equal (draws |> List.distinct |> List.length) 7 "all seven subsets occur"
                // a batch with only text has nothing to drop
                let textOnly = m.Encoder.forward (EncoderInput(null, null, input.Text))
                Expect.isNotNull textOnly.Text "the only modality stays"
                m.eval ()
                let e = m.Encoder.forward input
                Expect.isTrue (not (isNull e.Audio) && not (isNull e.Video) && not (isNull e.Text)) "eval: nothing dropped"

                Expect.throws (fun () -> tiny.WithAnySubset(false, 0.5).Validate()) "modality dropout needs the any-subset encoder"

                Expect.throws (fun () -> tiny.WithAnySubset(true, 1.0).Validate()) "dropout 1 would drop everything"
            }

            test "learned weights: softmax starts at the configured weights; the output starts at the paper's" {
                use _ = torch.NewDisposeScope()
                let input = batch (examples 8 tiny [ (7, 5, 4); (4, 3, 2) ])
                let m = model 9L (tiny.WithLearnedModalityWeights true)
                let w = m.Encoder.LearnedWeights

                for i, expected in List.indexed [ 0.4; 0.4; 0.2 ] do
                    Expect.floatClose Accuracy.high w[i] expected $"weight {i}"

                let paper = (model 9L tiny).Encoder.forward(input).Fused
                Expect.isLessThan (maxAbsDiff paper (m.Encoder.forward(input).Fused)) 1e-5 "same output at step 0"

                let equal =
                    model 9L ((tinyWith TaskWeights.Pretraining ModalityWeights.Equal).WithLearnedModalityWeights true)

                for x in equal.Encoder.LearnedWeights do
                    Expect.floatClose Accuracy.high x (1.0 / 3.0) "equal thirds"

                Expect.isNull (model 9L tiny).Encoder.LearnedWeights "not learned: none"
                Expect.isNull ((model 9L tiny) :> ITaskModel).LoggedValues "nothing to log"
            }

            test "learned weights: gradients reach all three logits (finite, non-zero), also in the any-subset encoder" {
                for config in
                    [
                        tiny.WithLearnedModalityWeights true
                        (anySubset tiny).WithLearnedModalityWeights true
                    ] do
                    use _ = torch.NewDisposeScope()
                    let m = model 9L config
                    let input = batch (examples 8 tiny [ (7, 5, 4); (4, 3, 2) ])
                    m.zero_grad ()
                    let out = m.forward (input, null)
                    (out.SpeakerLogits * out.SpeakerLogits).sum().backward()
                    let g = values (logits m).grad
                    Expect.equal g.Length 3 "three logits"

                    for x in g do
                        Expect.isTrue (Single.IsFinite x && abs x > 1e-8f) $"gradient {x}"
            }

            test "learned weights: a few training steps change them; each step logs them (log.jsonl round trip)" {
                use _ = torch.NewDisposeScope()
                let config = tiny.WithLearnedModalityWeights true
                let m = model 9L config
                let input = batch (examples 8 tiny [ (7, 5, 4); (4, 3, 2) ])
                let struct (asrIn, asrOut) = Targets.AsrPairs(transcripts [ "ab"; "c" ])
                let targets = Targets(asrIn, asrOut, torch.tensor [| 1L; 3L |], null)

                let step =
                    TrainStep(m, MultiTaskCriterion.For config, LearningRateSchedule(1.0, config.DModel, 1))

                let before = m.Encoder.LearnedWeights
                let results = [ for _ in 1..3 -> step.Run(input, targets) ]
                let after = m.Encoder.LearnedWeights
                Expect.isGreaterThan (Array.map2 (fun a b -> abs (a - b)) before after |> Array.max) 1e-6 "changed"
                Expect.floatClose Accuracy.high (Array.sum after) 1.0 "still sums to 1"
                let last = (List.last results).Values
                Expect.floatClose Accuracy.high last["modality_weight_video"] after[1] "the step reports the weights"

                let dir = Path.Combine(Path.GetTempPath(), $"encoder-options-{Guid.NewGuid():N}")

                let path = Path.Combine(dir, RunFolder.LogFile)
                Directory.CreateDirectory dir |> ignore

                try
                    using (MetricsLog.Open path) (fun log ->
                        for r in results do
                            log.Step(r, 0, 1.0))

                    let read = MetricsLog.Read path
                    let back = (Seq.last read.Steps).Result.Values
                    Expect.equal back.Count 3 "three weights per step line"

                    for KeyValue(k, v) in last do
                        Expect.equal back[k] v $"{k} read back exactly"

                    // the figure: one line per modality over the three steps
                    let chart =
                        Research.Experiments.Figures.modalityWeightCurves dir "learned"
                        |> Option.defaultWith (fun () -> failwith "a log with learned weights gives a figure")

                    let traces =
                        Text.Json.JsonDocument
                            .Parse(Plotly.NET.GenericChart.toFigureJson chart)
                            .RootElement.GetProperty("data")
                            .EnumerateArray()
                        |> Seq.map (fun t ->
                            t.GetProperty("name").GetString(), [ for y in t.GetProperty("y").EnumerateArray() -> y.GetDouble() ])
                        |> Map.ofSeq

                    Expect.equal (Set.ofSeq traces.Keys) (set [ "audio"; "video"; "text" ]) "one line per modality"

                    Expect.equal
                        traces["video"]
                        [ for r in results -> r.Values["modality_weight_video"] ]
                        "the video line is the logged weights"

                    let plain = Path.Combine(dir, "plain")
                    Directory.CreateDirectory plain |> ignore

                    using (MetricsLog.Open(Path.Combine(plain, RunFolder.LogFile))) (fun log ->
                        log.Step(StepResult(1L, 0.1, 1.0, Nullable 1.0, Nullable(), Nullable(), 1.0, 1.0), 0, 1.0))

                    Expect.isNone (Research.Experiments.Figures.modalityWeightCurves plain "plain") "no learned weights, no figure"
                finally
                    Directory.Delete(dir, true)
            }

            test "learned weights: the logits learn at ModalityWeightLearningRateScale × the schedule, the rest at the schedule" {
                use _ = torch.NewDisposeScope()
                let input = batch (examples 8 tiny [ (7, 5, 4); (4, 3, 2) ])
                let struct (asrIn, asrOut) = Targets.AsrPairs(transcripts [ "ab"; "c" ])
                let targets = Targets(asrIn, asrOut, torch.tensor [| 1L; 3L |], null)

                // Adam's first step moves every parameter with a gradient by the learning rate times the sign of
                // its gradient: the logits by lr × scale, the others by lr, whatever the scale.
                let firstStep (scale: float) =
                    let config =
                        (tiny.WithLearnedModalityWeights true).WithModalityWeightLearningRateScale scale

                    let m = model 9L config
                    let other = m.Encoder.Audio.parameters () |> Seq.head
                    let logits0, other0 = values (logits m), values other

                    let step =
                        TrainStep(m, MultiTaskCriterion.For config, LearningRateSchedule(1.0, config.DModel, 1))

                    let r = step.Run(input, targets)

                    let moved (a: float32[]) (b: float32[]) =
                        Array.map2 (fun x y -> float (abs (x - y))) a b

                    r.LearningRate, moved logits0 (values (logits m)), moved other0 (values other)

                let lr, logits1, other1 = firstStep 1.0
                let _, logits100, other100 = firstStep 100.0
                Expect.equal (List.ofSeq (model 9L tiny).ScaledParameters).Length 0 "fixed weights: nothing scaled"
                Expect.equal (tiny.ModalityWeightLearningRateScale) 100.0 "default 100"

                for i in 0..2 do
                    Expect.floatClose
                        {
                            absolute = lr * 1e-3
                            relative = 1e-3
                        }
                        logits1[i]
                        lr
                        $"scale 1: logit {i} moved by lr"

                    Expect.floatClose
                        {
                            absolute = lr * 1e-1
                            relative = 1e-3
                        }
                        logits100[i]
                        (100.0 * lr)
                        $"scale 100: logit {i} moved by 100 lr"

                Expect.sequenceEqual other100 other1 "the other parameters take the same step either way"
                Expect.isGreaterThan (Array.max other1) (0.5 * lr) "and they did move, by about lr"
            }

            test "learned weights, paper rule: an ablated stream (weight 0) loses its share; its input may be absent" {
                use _ = torch.NewDisposeScope()
                let m = model 9L (tiny.WithLearnedModalityWeights true)
                let x = batch (examples 8 tiny [ (7, 5, 4); (4, 3, 2) ])
                m.Encoder.Weights <- ModalityWeights(0.4, 0.0, 0.2)
                let reference = m.Encoder.forward(x).Fused
                let noVideo = m.Encoder.forward(EncoderInput(x.Audio, null, x.Text)).Fused
                Expect.isTrue (same reference noVideo) "independent of video"
                let e = m.Encoder
                let a = e.Audio.forward (x.Audio.Features, x.Audio.Padding)
                let t = e.Text.forward (a, x.Audio.Padding, x.Text.Features, x.Text.Padding)
                // not renormalised: 0.4·audio + 0.2·text, as the paper's ablations
                Expect.isLessThan (maxAbsDiff reference (a * 0.4 + t * 0.2)) 1e-5 "the configured shares, not renormalised"
            }
        ]
