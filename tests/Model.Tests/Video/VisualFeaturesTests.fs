module Research.Model.Tests.Video.VisualFeaturesTests

open System
open Expecto
open TorchSharp
open Research.Model.Video
open Research.Model.Tests.ReferenceFiles
open Research.Model.Tests.Tensors
open Research.Model.Tests.Video.Vgg16Tests

/// An (h, w, 3) image whose pixel (y, x) is colour (y, x).
let private image h w (colour: int -> int -> byte * byte * byte) =
    Array3D.init h w 3 (fun y x c ->
        let r, g, b = colour y x
        [| r; g; b |].[c])

let private closeTo (tolerance: float32) (actual: float32 array) (expected: float32 array) (what: string) =
    Expect.equal actual.Length expected.Length $"{what}: length"

    for k in 0 .. actual.Length - 1 do
        if abs (actual[k] - expected[k]) > tolerance then
            failtestf "%s: feature %d (row %d, column %d) is %f, expected %f" what k (k / 64) (k % 64) actual[k] expected[k]

[<Tests>]
let tests =
    testSequenced
    <| testList
        "Video.VisualFeatures"
        [
            test "half black, half white (48x128) gives -1 on the left 32 columns and +1 on the right" {
                let f =
                    VisualFeatures.FromFrame(image 48 128 (fun _ x -> if x < 64 then (0uy, 0uy, 0uy) else (255uy, 255uy, 255uy)))

                closeTo 1e-6f f (Array.init 4096 (fun k -> if k % 64 < 32 then -1f else 1f)) "pattern"
            }

            test "BT.601 grayscale and area averaging over fractional pixels (red, green, blue bands of 32 in 96 columns)" {
                let f =
                    VisualFeatures.FromFrame(
                        image 64 96 (fun _ x ->
                            if x < 32 then (255uy, 0uy, 0uy)
                            elif x < 64 then (0uy, 255uy, 0uy)
                            else (0uy, 0uy, 255uy))
                    )
                // Output column j covers source columns [1.5 j, 1.5 j + 1.5): the mean of the piecewise-constant luma.
                let luma x =
                    if x < 32.0 then 0.299
                    elif x < 64.0 then 0.587
                    else 0.114

                let column j =
                    let lo, hi = 1.5 * float j, 1.5 * float j + 1.5

                    let cuts =
                        [ lo; 32.0; 64.0; hi ] |> List.filter (fun c -> c >= lo && c <= hi) |> List.sort

                    (cuts
                     |> List.pairwise
                     |> List.sumBy (fun (a, b) -> (b - a) * luma ((a + b) / 2.0)))
                    / 1.5

                let cols = Array.init 64 column
                let mean = Array.average cols
                let std = sqrt (cols |> Array.averageBy (fun v -> (v - mean) ** 2.0))
                closeTo 1e-5f f (Array.init 4096 (fun k -> float32 ((cols[k % 64] - mean) / std))) "bands"
            }

            test "brightness and contrast do not change the feature; a constant frame gives zeros" {
                let rng = Random 3
                let gray = image 40 50 (fun _ _ -> let v = byte (2 * rng.Next 100) in (v, v, v))
                let dimmer = gray |> Array3D.map (fun v -> v / 2uy + 40uy)
                let f = VisualFeatures.FromFrame gray
                Expect.isGreaterThan (Array.max f) 0.5f "not trivial"
                closeTo 1e-4f (VisualFeatures.FromFrame dimmer) f "half the contrast, brighter"
                closeTo 0f (VisualFeatures.FromFrame(image 30 20 (fun _ _ -> (9uy, 99uy, 199uy)))) (Array.zeroCreate 4096) "constant"
            }

            test "a small frame (8x8) is repeated in 8x8 blocks" {
                let rng = Random 4

                let f =
                    VisualFeatures.FromFrame(image 8 8 (fun _ _ -> let v = byte (rng.Next 256) in (v, v, v)))

                for k in 0..4095 do
                    let i, j = k / 64, k % 64
                    Expect.equal f[k] f[(i / 8 * 8) * 64 + j / 8 * 8] $"({i}, {j})"

                Expect.floatClose Accuracy.medium (f |> Array.averageBy float) 0.0 "mean 0"
                Expect.floatClose Accuracy.medium (f |> Array.averageBy (fun v -> float v ** 2.0)) 1.0 "variance 1"
            }

            test "from a video: one row per frame at the rate, equal to the per-frame function on ffmpeg's 64x64 frames" {
                let path = reference "video" "testsrc.mp4"
                let features = VisualFeatures.FromVideo(path, 5.0)
                Expect.equal (features.GetLength 0, features.GetLength 1) (10, 4096) "(frames, 4096)"
                let frames = VideoFrames.Read(path, 5.0, 64, 64, "area")

                for n in 0..9 do
                    Expect.equal features[n, *] (VisualFeatures.FromFrame(frames.Frame n, 64, 64)) $"frame {n}"
            }

            test "VGG-16 features of a video: batched, in evaluation mode, equal to a direct forward" {
                use _ = torch.NewDisposeScope()
                use model = Vgg16.Load(tinyWeights (), tinyWidths, tinyHidden, tinyClasses)
                model.train ()
                let extractor = Vgg16Features(model, batchSize = 3, side = 32)
                let path = reference "video" "testsrc.mp4"
                let features = VideoFeatures.FromFile(path, 5.0, extractor)
                Expect.equal (features.GetLength 0, features.GetLength 1) (10, 16) "(frames, hidden)"
                let frames = VideoFrames.Read(path, 5.0, 32, 32)
                use _ = torch.no_grad ()
                let direct = model.forward (Vgg16.Normalize(frames.ToTensor())) |> values

                for n in 0..9 do
                    for d in 0..15 do
                        Expect.floatClose Accuracy.medium (float features[n, d]) (float direct[n * 16 + d]) $"frame {n}, feature {d}"
            }

            test "precomputed features are checked: frames, dimension, finite values, naming the item" {
                let ok = Array2D.create 3 4096 0.5f
                Expect.isTrue (obj.ReferenceEquals(VideoFeatures.Precomputed(ok, "v1"), ok)) "returned as is"

                let fails (features: float32[,]) (parts: string list) =
                    Expect.throwsC (fun () -> VideoFeatures.Precomputed(features, "mosei/v7") |> ignore) (fun e ->
                        for p in "mosei/v7" :: parts do
                            Expect.stringContains e.Message p "message")

                fails (Array2D.zeroCreate 0 4096) [ "no frames" ]
                fails (Array2D.zeroCreate 2 300) [ "(2, 300)"; "4096" ]
                let bad = Array2D.create 2 4096 0f
                bad[1, 17] <- nanf
                fails bad [ "frame 1, column 17" ]
            }
        ]

[<Tests>]
let sideTests =
    testList
        "Video.VisualFeatures.side"
        [
            test "a grey image gives the same feature as the same image in RGB, at any side" {
                let rng = Random 9
                let h, w = 40, 50
                let gray = Array.init (h * w) (fun _ -> float32 (rng.Next 256) / 255.0f)
                let rgb = Array.init (h * w * 3) (fun i -> byte (round (gray[i / 3] * 255.0f)))

                for side in [ 64; 32; 16 ] do
                    let a = VisualFeatures.FromGray(ReadOnlySpan gray, h, w, side)
                    let b = VisualFeatures.FromFrame(ReadOnlySpan rgb, h, w, side)
                    Expect.equal a.Length (side * side) $"{side}² features"
                    Expect.isLessThan (Array.map2 (fun (x: float32) y -> abs (x - y)) a b |> Array.max) 1e-4f $"side {side}"

                Expect.equal (VisualFeatures(32)).Dimension 1024 "extractor dimension"
            }
        ]
