module Research.Model.Tests.Video.Vgg16Tests

open System
open System.IO
open System.Text.Json
open Expecto
open TorchSharp
open Research.Model.Video
open Research.Model.Tests.ReferenceFiles
open Research.Model.Tests.Tensors

/// The test-size network of tests/references/video (torchvision's make_layers with these widths).
let tinyWidths = [| 4L; 8L; 8L; 8L; 8L |]
let tinyHidden, tinyClasses = 16L, 10L

let tinyWeights () = reference "video" "tiny_vgg.dat"

let private tinyIo () =
    let f32 = torch.ScalarType.Float32

    loadTensors
        (reference "video" "tiny_vgg_io.dat")
        [
            "input_a", f32, [| 2L; 3L; 32L; 40L |]
            "fc7_a", f32, [| 2L; tinyHidden |]
            "logits_a", f32, [| 2L; tinyClasses |]
            "input_b", f32, [| 1L; 3L; 64L; 48L |]
            "fc7_b", f32, [| 1L; tinyHidden |]
            "logits_b", f32, [| 1L; tinyClasses |]
        ]

/// Largest |a − b| relative to the largest |b|.
let private relDiff (a: torch.Tensor) (b: torch.Tensor) =
    maxAbsDiff a b / max 1e-12 (b.abs().max().item<float32>() |> float)

/// A full-size network (138 M parameters, ~0.55 GB; dispose it).
let private fullSize () =
    torch.manual_seed 5L |> ignore
    let m = new Vgg16()
    m.eval ()
    m

[<Tests>]
let tests =
    testSequenced
    <| testList
        "Video.Vgg16"
        [
            test "state_dict keys and shapes are torchvision's vgg16, in order; 138,357,544 parameters" {
                use doc = JsonDocument.Parse(File.ReadAllText(reference "video" "vgg16_keys.json"))

                let expected =
                    [
                        for k in doc.RootElement.GetProperty("keys").EnumerateArray() ->
                            k.GetProperty("key").GetString(), [ for d in k.GetProperty("shape").EnumerateArray() -> d.GetInt64() ]
                    ]

                use full = fullSize ()
                let actual = [ for kv in full.state_dict () -> kv.Key, List.ofArray kv.Value.shape ]

                Expect.sequenceEqual actual expected "keys and shapes"
                let count = full.parameters () |> Seq.sumBy (fun p -> p.numel ())
                Expect.equal count (doc.RootElement.GetProperty("parameters").GetInt64()) "parameter count"
                Expect.equal count 138357544L "VGG-16 D"
            }

            test "full size: (2, 3, 32, 32) gives (2, 4096) non-negative fc7, deterministic, batch items independent" {
                use _ = torch.NewDisposeScope()
                use _ = torch.no_grad ()
                use full = fullSize ()
                torch.manual_seed 6L |> ignore
                let x = torch.randn (2L, 3L, 32L, 32L)
                let y = full.forward x
                Expect.equal y.shape [| 2L; 4096L |] "shape"
                Expect.isGreaterThanOrEqual (y.min().item<float32>()) 0f "after ReLU"
                Expect.isGreaterThan (y.max().item<float32>()) 0f "not all zero"
                Expect.equal (maxAbsDiff (full.forward x) y) 0.0 "same input, same output (eval: no dropout)"
                let alone = full.forward (x.narrow (0L, 1L, 1L))
                Expect.isLessThan (relDiff alone (y.narrow (0L, 1L, 1L))) 1e-5 "item 1 alone = item 1 in the batch"
                Expect.equal (full.Logits x).shape [| 2L; 1000L |] "logits"
            }

            test "matches PyTorch (torchvision's make_layers, converted weights) at test size" {
                use _ = torch.NewDisposeScope()
                use _ = torch.no_grad ()
                let io = tinyIo ()

                use model =
                    Vgg16.Load(tinyWeights (), tinyWidths, hidden = tinyHidden, classes = tinyClasses)

                for name in [ "a"; "b" ] do
                    let x = io[$"input_{name}"]
                    Expect.isLessThan (relDiff (model.forward x) io[$"fc7_{name}"]) 1e-5 $"fc7 after ReLU ({name})"
                    Expect.isLessThan (relDiff (model.Logits x) io[$"logits_{name}"]) 1e-5 $"logits ({name})"
            }

            test "save then load gives identical outputs, and TorchSharp writes the converter's bytes" {
                use _ = torch.NewDisposeScope()
                use _ = torch.no_grad ()
                use dir = new TempDir()
                torch.manual_seed 7L |> ignore
                use model = new Vgg16(tinyWidths, tinyHidden, tinyClasses)
                model.eval ()
                let path = dir.File "tiny.dat"
                model.save path |> ignore
                use loaded = Vgg16.Load(path, tinyWidths, tinyHidden, tinyClasses)
                let x = torch.randn (3L, 3L, 40L, 36L)
                Expect.equal (maxAbsDiff (loaded.forward x) (model.forward x)) 0.0 "identical"
                use fromPython = Vgg16.Load(tinyWeights (), tinyWidths, tinyHidden, tinyClasses)
                let again = dir.File "again.dat"
                fromPython.save again |> ignore
                Expect.equal (File.ReadAllBytes again) (File.ReadAllBytes(tinyWeights ())) "byte-identical to tools/convert_vgg16.py's file"
            }

            test "missing or mismatched weights, and too small images, are errors naming the file or shape" {
                Expect.throwsC (fun () -> Vgg16.Load "/nonexistent/vgg16.dat" |> ignore) (fun e ->
                    Expect.isTrue (e :? FileNotFoundException) "FileNotFoundException"
                    Expect.stringContains e.Message "/nonexistent/vgg16.dat" "names the file"
                    Expect.stringContains e.Message "tools/convert_vgg16.py" "says how to make it")

                Expect.throwsC (fun () -> Vgg16.Load(tinyWeights (), tinyWidths, 32L, tinyClasses) |> ignore) (fun e ->
                    Expect.isTrue (e :? InvalidDataException) "InvalidDataException"
                    Expect.stringContains e.Message (tinyWeights ()) "names the file")

                use model = new Vgg16(tinyWidths, tinyHidden, tinyClasses)

                Expect.throwsC (fun () -> model.forward (torch.zeros (1L, 3L, 16L, 64L)) |> ignore) (fun e ->
                    Expect.stringContains e.Message "(1, 3, 16, 64)" "names the shape")
            }

            test "ImageNet normalisation maps each channel's mean to 0" {
                let mean =
                    floats [ 1L; 3L; 1L; 1L ] [| 0.485f; 0.456f; 0.406f |] false
                    |> fun m -> m.expand (2L, 3L, 4L, 5L)

                Expect.isLessThan (Vgg16.Normalize(mean).abs().max().item<float32>() |> float) 1e-6 "zero"
                let one = Vgg16.Normalize(torch.ones (1L, 3L, 1L, 1L)) |> values
                Expect.floatClose Accuracy.high (float one[0]) ((1.0 - 0.485) / 0.229) "red channel"
            }
        ]
