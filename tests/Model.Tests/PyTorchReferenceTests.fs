/// Our multi-task model against an independent PyTorch implementation (benchmarks/pytorch/reference_model.py):
/// weights, batches and the reference's outputs, losses and gradients were made once by
/// tests/references/pytorch/make_references.py and are committed, so the test needs no Python.
module Research.Model.Tests.PyTorchReferenceTests

open System.IO
open Expecto
open TorchSharp
open Research.Model
open Research.Experiments
open Research.Benchmarks
open Research.Model.Tests.ReferenceFiles
open Research.Model.Models

/// A committed case: the model with the reference's weights, the criterion, the batch and the expected tensors.
let private load (case: string) =
    let file name =
        reference "pytorch" (Path.Combine(case, name))

    let config = BenchReference.configOfJson (file "config.json")
    let model = new MultiTaskModel(config)
    model.load (file "weights.dat") |> ignore
    let batchPath = file "batch.dat"

    let input, targets, positive =
        BenchReference.batchOfEntries batchPath (BenchReference.readTensors batchPath)

    let criterion =
        MultiTaskCriterion(config.Tasks, config.LabelSmoothing, Option.toObj positive)

    model, criterion, input, targets, BenchReference.readTensors (file "expected.dat")

let private describe (agreements: BenchReference.Agreement list) =
    agreements
    |> List.map (fun a ->
        match a.Problem with
        | Some p -> $"{a.Name}: {p}"
        | None -> $"{a.Name}: max |d| {a.MaxAbsDiff:g}, scaled {a.MaxScaledDiff:g}, relative L2 %A{a.RelativeL2}")
    |> String.concat "\n"

/// Within 1e-4 per element (relative above magnitude 1), and in relative L2 norm per tensor where the reference is
/// not zero in exact arithmetic: the key projections' bias gradients are (softmax ignores a shift shared by all
/// scores of a query), so both sides hold rounding noise there (~1e-19 in float64, ~1e-10 in float32).
let private failing (agreements: BenchReference.Agreement list) =
    agreements
    |> List.filter (fun a ->
        not (BenchReference.agrees a)
        || (a.MaxAbsReference > 1e-6
            && a.RelativeL2 |> Option.exists (fun r -> r > BenchReference.tolerance)))

let private agreementTest (case: string) =
    test $"{case}: every output, loss term and parameter gradient agrees with PyTorch to 1e-4" {
        use _ = torch.NewDisposeScope()
        let model, criterion, input, targets, expected = load case
        use _ = model
        let ours = BenchReference.evaluate model criterion input targets
        let agreements = BenchReference.compare ours expected
        Expect.isEmpty (failing agreements) (describe (failing agreements))

        Expect.equal
            (ours |> List.map fst |> Set.ofList)
            (expected |> List.map fst |> Set.ofList)
            "the same outputs, loss terms and parameters on both sides"

        let gradients = agreements |> List.filter (fun a -> a.Name.StartsWith "grad.")

        Expect.isGreaterThan gradients.Length 50 "every parameter's gradient is compared"
    }

[<Tests>]
let tests =
    testList
        "PyTorchReference"
        [
            agreementTest "full"
            agreementTest "no-video"

            test "the comparison detects a 0.1 % change of one LayerNorm's weights" {
                use _ = torch.NewDisposeScope()
                let model, criterion, input, targets, expected = load "full"
                use _ = model

                let weight =
                    model.named_parameters ()
                    |> Seq.pick (fun struct (name, p) ->
                        if name = "encoder.video.layers.1.norm_source.weight" then
                            Some p
                        else
                            None)

                using (torch.no_grad ()) (fun _ -> weight.mul_ (torch.tensor 1.001f) |> ignore)

                let agreements =
                    BenchReference.compare (BenchReference.evaluate model criterion input targets) expected

                let failed = failing agreements |> List.map (fun a -> a.Name)
                Expect.contains failed "output.video" "the video stream moves"
                Expect.contains failed "output.fused" "the fused sequence moves"
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
