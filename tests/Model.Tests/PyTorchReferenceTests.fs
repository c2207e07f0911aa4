/// Our multi-task model against an independent PyTorch implementation (benchmarks/pytorch/reference_model.py):
/// weights, batches and the reference's outputs, losses and gradients were made once by
/// tests/references/pytorch/make_references.py and are committed, so the test needs no Python.
module Research.Model.Tests.PyTorchReferenceTests

open System.IO
open System.Text.Json
open Expecto
open TorchSharp
open Research.Model
open Research.Experiments
open Research.Benchmarks
open Research.Model.Tests.ReferenceFiles
open Research.Model.Models
open Research.Model.Modules

/// A committed case: the model with the reference's weights, the batch, the emotion loss's positive weights and the
/// expected tensors.
let private parts (case: string) =
    let file name =
        reference "pytorch" (Path.Combine(case, name))

    let config = BenchReference.configOfJson (file "config.json")
    let model = new MultiTaskModel(config)
    model.load (file "weights.dat") |> ignore
    let batchPath = file "batch.dat"

    let input, targets, positive =
        BenchReference.batchOfEntries batchPath (BenchReference.readTensors batchPath)

    model, input, targets, positive, BenchReference.readTensors (file "expected.dat")

/// A committed case in float32: the model, the criterion, the batch and the expected tensors.
let private load (case: string) =
    let model, input, targets, positive, expected = parts case

    let criterion =
        MultiTaskCriterion(model.Config.Tasks, model.Config.LabelSmoothing, Option.toObj positive)

    model, criterion, input, targets, expected

/// A sequence with its features in float64 (null stays null).
let private wide (s: Sequence) =
    if isNull (box s) then
        s
    else
        Sequence(s.Features.to_type torch.float64, s.Padding)

/// A committed case run in float64 on our side: the model, criterion, batch and targets converted.
let private load64 (case: string) =
    let model, input, targets, positive, expected = parts case
    let config = model.Config
    model.``to`` torch.float64 |> ignore

    let criterion64 =
        MultiTaskCriterion(config.Tasks, config.LabelSmoothing, positive |> Option.map (fun p -> p.to_type torch.float64) |> Option.toObj)

    let input64 = EncoderInput(wide input.Audio, wide input.Video, wide input.Text)

    let targets64 =
        Targets(targets.AsrInput, targets.AsrTarget, targets.Speakers, targets.Emotions.to_type torch.float64)

    model, criterion64, input64, targets64, expected

let private describe (agreements: BenchReference.Agreement list) =
    agreements
    |> List.map (fun a ->
        match a.Problem with
        | Some p -> $"{a.Name}: {p}"
        | None -> $"{a.Name}: max |d| {a.MaxAbsDiff:g}, scaled {a.MaxScaledDiff:g}, relative L2 %A{a.RelativeL2}")
    |> String.concat "\n"

/// Tolerances of a comparison: per element |ours − reference| ≤ tolerance · max(1, |reference|), outputs and loss
/// terms under one, parameter gradients under the other.
type private Tolerance = { Outputs: float; Gradients: float }

/// Our float32 model against the float64 reference: float32 rounding through a few layers and a backward pass
/// (measured at demo size: outputs 3.4e-7, gradients 5.5e-8 for the transformer; see the log line of each test);
/// 1e-5 and 1e-6 leave margins of about thirty and twenty.
let private float32Tolerance = { Outputs = 1e-5; Gradients = 1e-6 }

/// Our model in float64 against the float64 reference: the two implementations then differ only by the order of
/// float64 operations (measured: outputs 9e-16, gradients 6e-17); 1e-10 leaves a margin of 1e5 for other BLAS
/// kernels, and a change of 1e-5 relative in one LayerNorm's weights (the size of an eps change, 1e-5 vs 1e-6) is
/// still about a thousand times the tolerance.
let private float64Tolerance = { Outputs = 1e-10; Gradients = 1e-10 }

let private toleranceOf (t: Tolerance) (a: BenchReference.Agreement) =
    if a.Name.StartsWith "grad." then t.Gradients else t.Outputs

/// The agreements outside the tolerance: per element (relative above magnitude 1), and in relative L2 norm per tensor
/// where the reference is not zero in exact arithmetic: the key projections' bias gradients are (softmax ignores a
/// shift shared by all scores of a query), so both sides hold rounding noise there (~1e-19 in float64, ~1e-10 in
/// float32).
let private failingWithin (t: Tolerance) (agreements: BenchReference.Agreement list) =
    agreements
    |> List.filter (fun a ->
        let tolerance = toleranceOf t a

        a.Problem.IsSome
        || not (a.MaxScaledDiff <= tolerance)
        || (a.MaxAbsReference > 1e-6
            && a.RelativeL2 |> Option.exists (fun r -> r > tolerance)))

/// The largest scaled difference among outputs and loss terms, and among gradients (for the report in the log).
let private worst (agreements: BenchReference.Agreement list) =
    let largest (keep: BenchReference.Agreement -> bool) =
        agreements
        |> List.filter keep
        |> List.map (fun a -> a.MaxScaledDiff)
        |> List.max

    largest (fun a -> not (a.Name.StartsWith "grad.")), largest (fun a -> a.Name.StartsWith "grad.")

/// Every output, loss term and gradient of ours (`evaluate`) against the reference, within `tolerance`.
let private expectAgreement
    (label: string)
    (tolerance: Tolerance)
    (ours: (string * torch.Tensor) list)
    (expected: (string * torch.Tensor) list)
    =
    let agreements = BenchReference.compare ours expected
    let bad = failingWithin tolerance agreements
    Expect.isEmpty bad (describe bad)
    let outputs, gradients = worst agreements
    printfn "PyTorch reference %s: max scaled difference outputs/losses %.3g, gradients %.3g" label outputs gradients

    Expect.equal
        (ours |> List.map fst |> Set.ofList)
        (expected |> List.map fst |> Set.ofList)
        "the same outputs, loss terms and parameters on both sides"

    agreements

let private agreementTest (case: string) =
    testList
        case
        [
            test "float32: every output and loss term agrees with PyTorch (float64) to 1e-5, every gradient to 1e-6" {
                use _ = torch.NewDisposeScope()
                let model, criterion, input, targets, expected = load case
                use _ = model
                let ours = BenchReference.evaluate model criterion input targets
                let agreements = expectAgreement $"{case} float32" float32Tolerance ours expected
                let gradients = agreements |> List.filter (fun a -> a.Name.StartsWith "grad.")
                Expect.isGreaterThan gradients.Length 50 "every parameter's gradient is compared"
            }

            test "float64: every output, loss term and parameter gradient agrees with PyTorch to 1e-10" {
                use _ = torch.NewDisposeScope()
                let model, criterion, input, targets, expected = load64 case
                use _ = model
                let ours = BenchReference.evaluate model criterion input targets

                Expect.equal (ours |> List.map (fun (_, t) -> t.dtype) |> List.distinct) [ torch.float64 ] "our side computed in float64"

                expectAgreement $"{case} float64" float64Tolerance ours expected |> ignore
            }
        ]

/// Multiplies one named parameter by (1 + relative) in place.
let private perturb (model: torch.nn.Module) (name: string) (relative: float) =
    let p =
        model.named_parameters ()
        |> Seq.pick (fun struct (n, p) -> if n = name then Some p else None)

    using (torch.no_grad ()) (fun _ -> p.mul_ (torch.tensor (1.0 + relative, dtype = p.dtype)) |> ignore)

/// The late-fusion case: our LateFusionModel with the reference's weights, in float64, and what it computes.
let private lateFusion () =
    let file name =
        reference "pytorch" (Path.Combine("late-fusion", name))

    let config =
        JsonSerializer.Deserialize<LateFusionConfig>(File.ReadAllText(file "config.json"))

    let model = new LateFusionModel(config)
    model.load (file "weights.dat") |> ignore
    model.``to`` torch.float64 |> ignore
    let batchPath = file "batch.dat"

    let input, targets, positive =
        BenchReference.batchOfEntries batchPath (BenchReference.readTensors batchPath)

    let input64 = EncoderInput(wide input.Audio, wide input.Video, wide input.Text)
    let targets64 = Targets(null, null, null, targets.Emotions.to_type torch.float64)

    let criterion =
        MultiTaskCriterion(TaskWeights.EmotionOnly, 0.0, (Option.get positive).to_type torch.float64)

    model, config, input64, targets64, criterion, BenchReference.readTensors (file "expected.dat")

/// Our late-fusion model's summaries per modality, logits, loss and gradients in eval mode, named as the reference's.
let private evaluateLateFusion (model: LateFusionModel) (input: EncoderInput) (targets: Targets) (criterion: MultiTaskCriterion) =
    model.eval ()
    model.zero_grad ()
    let logits = model.forward input
    let loss = criterion.Compute(ModelOutput(null, null, null, logits), targets)
    loss.Total.backward ()

    let encoders =
        model.named_children ()
        |> Seq.choose (fun struct (name, m) ->
            match m with
            | :? BiGruEncoder as e -> Some(name, e)
            | _ -> None)
        |> List.ofSeq

    let sequences =
        [ "audio", input.Audio; "video", input.Video; "text", input.Text ] |> Map.ofList

    [
        for name, e in encoders -> $"output.{name}", e.forward(sequences[name].Features, sequences[name].Padding).detach()
        yield "output.emotion_logits", logits.detach ()
        yield "loss.emotion", loss.Emotion.detach().reshape(1L)
        for struct (name, p) in model.named_parameters () -> "grad." + name, p.grad.detach ()
    ]

[<Tests>]
let tests =
    testList
        "PyTorchReference"
        [
            agreementTest "full"
            agreementTest "no-video"

            test "float64: a 1e-5 relative change of one LayerNorm's weights (an eps-sized change) fails the comparison" {
                use _ = torch.NewDisposeScope()
                let model, criterion, input, targets, expected = load64 "full"
                use _ = model
                perturb model "encoder.video.layers.1.norm_source.weight" 1e-5

                let agreements =
                    BenchReference.compare (BenchReference.evaluate model criterion input targets) expected

                let failed = failingWithin float64Tolerance agreements |> List.map (fun a -> a.Name)
                Expect.contains failed "output.video" "the video stream moves"
                Expect.contains failed "output.fused" "the fused sequence moves"
                Expect.contains failed "loss.total" "the loss moves"
            }

            test "late fusion, float64: summaries, logits, loss and every gradient agree with PyTorch's packed nn.GRU to 1e-10" {
                use _ = torch.NewDisposeScope()
                let model, config, input, targets, criterion, expected = lateFusion ()
                use _ = model
                let ours = evaluateLateFusion model input targets criterion

                let agreements =
                    expectAgreement "late fusion float64" float64Tolerance ours expected

                let gradients = agreements |> List.filter (fun a -> a.Name.StartsWith "grad.")
                // Per modality and GRU layer: 2 directions × 4 tensors; then the two linear layers' weights and biases.
                Expect.equal gradients.Length (3 * config.Layers * 8 + 4) "every parameter's gradient is compared"
            }

            test "late fusion, float32: outputs and loss agree with PyTorch (float64) to 1e-5, gradients to 1e-6" {
                use _ = torch.NewDisposeScope()
                let model, _, input, targets, _, expected = lateFusion ()
                use _ = model
                model.``to`` torch.float32 |> ignore

                let narrow (s: Sequence) =
                    Sequence(s.Features.to_type torch.float32, s.Padding)

                let input32 =
                    EncoderInput(narrow input.Audio, narrow input.Video, narrow input.Text)

                let targets32 = Targets(null, null, null, targets.Emotions.to_type torch.float32)

                let positive =
                    reference "pytorch" (Path.Combine("late-fusion", "batch.dat"))
                    |> BenchReference.readTensors

                let criterion =
                    MultiTaskCriterion(TaskWeights.EmotionOnly, 0.0, positive |> List.find (fun (n, _) -> n = "emotion_pos_weight") |> snd)

                let ours = evaluateLateFusion model input32 targets32 criterion
                expectAgreement "late fusion float32" float32Tolerance ours expected |> ignore
            }

            test "late fusion: a 1e-5 relative change of one GRU weight, or reading padded steps, fails the comparison" {
                use _ = torch.NewDisposeScope()
                let model, _, input, targets, criterion, expected = lateFusion ()
                use _ = model
                perturb model "text.gru.weight_hh_l1_reverse" 1e-5

                let perturbed =
                    BenchReference.compare (evaluateLateFusion model input targets criterion) expected

                let failed = failingWithin float64Tolerance perturbed |> List.map (fun a -> a.Name)
                Expect.contains failed "output.text" "the text summary moves"
                Expect.contains failed "output.emotion_logits" "the logits move"
                Expect.isFalse (List.contains "output.audio" failed) "the audio summary does not"
                let model, _, input, targets, criterion, expected = lateFusion ()
                use _ = model
                // Without padding the GRU reads every step, garbage included: the summaries of shorter items move.
                let unpadded (s: Sequence) =
                    Sequence(s.Features, torch.zeros_like s.Padding)

                let noPadding =
                    EncoderInput(unpadded input.Audio, unpadded input.Video, unpadded input.Text)

                let padded =
                    BenchReference.compare (evaluateLateFusion model noPadding targets criterion) expected

                let failed = failingWithin float64Tolerance padded |> List.map (fun a -> a.Name)

                for name in [ "output.audio"; "output.video"; "output.text"; "output.emotion_logits" ] do
                    Expect.contains failed name $"{name} moves when padded steps are read"
            }

            test "tensor files round-trip names, dtypes, shapes and values" {
                use _ = torch.NewDisposeScope()
                use dir = new TempDir()
                let path = dir.File "t.dat"

                let entries =
                    [
                        "a.b", torch.randn (3L, 4L)
                        "mask", torch.tensor ([| true; false; true |])
                        "ids", torch.tensor ([| 5L; -7L |])
                        "scalar", torch.tensor 2.5f
                    ]

                BenchReference.writeTensors path entries
                let back = BenchReference.readTensors path
                Expect.equal (back |> List.map fst) (entries |> List.map fst) "names in order"

                for (_, a), (_, b) in List.zip entries back do
                    Expect.equal b.dtype a.dtype "dtype"
                    Expect.equal b.shape a.shape "shape"
                    Expect.isTrue ((a.eq b).all().item<bool>()) "values"
            }
        ]
