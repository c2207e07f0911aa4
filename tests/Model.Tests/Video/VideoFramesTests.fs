/// Needs ffmpeg at test time (Debian package ffmpeg).
module Research.Model.Tests.Video.VideoFramesTests

open System
open System.IO
open Expecto
open TorchSharp
open Research.Model.Video
open Research.Model.Tests.ReferenceFiles
open Research.Model.Tests.Tensors

let private testsrc () = reference "video" "testsrc.mp4"

[<Tests>]
let tests =
    testSequenced
    <| testList
        "Video.VideoFrames"
        [
            test "testsrc at 5 fps, 32x24: 10 frames equal to ffmpeg's own decoding of the lavfi source" {
                let frames = VideoFrames.Read(testsrc (), 5.0, 32, 24)
                Expect.equal (frames.Count, frames.Height, frames.Width) (10, 24, 32) "2 s at 5 fps"
                let expected = File.ReadAllBytes(reference "video" "testsrc_fps5_32x24.rgb")
                Expect.equal frames.Pixels.Length expected.Length "bytes"

                let worst =
                    Seq.zip frames.Pixels expected
                    |> Seq.map (fun (a, b) -> abs (int a - int b))
                    |> Seq.max
                // Lossless RGB video: equal with this ffmpeg (5.1); another ffmpeg's scaler may round differently.
                Expect.isLessThanOrEqual worst 2 "pixels match the source"
                Expect.notEqual (frames.Frame(0).ToArray()) (frames.Frame(9).ToArray()) "frames differ over time"
            }

            test "the frame count follows the rate" {
                for fps, count in [ 2.5, 5; 12.5, 25; 25.0, 50 ] do
                    Expect.equal (VideoFrames.Read(testsrc (), fps, 16, 16).Count) count $"{fps} fps"
            }

            test "a solid red video decodes to (255, 0, 0); the tensor is (N, 3, H, W) in [0, 1]" {
                let frames = VideoFrames.Read(reference "video" "red.mp4", 10.0, 32, 32)
                Expect.equal frames.Count 10 "1 s at 10 fps"

                for i in 0 .. frames.Pixels.Length - 1 do
                    if frames.Pixels[i] <> (if i % 3 = 0 then 255uy else 0uy) then
                        failtestf "byte %d is %d" i frames.Pixels[i]

                use _ = torch.NewDisposeScope()
                let t = frames.ToTensor()
                Expect.equal t.shape [| 10L; 3L; 32L; 32L |] "shape"
                Expect.equal (t.select(1, 0L).min().item<float32>()) 1f "red channel is 1"
                Expect.equal (t.narrow(1, 1L, 2L).abs().max().item<float32>()) 0f "green and blue are 0"
            }

            test "the tensor layout is channel-first and follows the bytes" {
                use _ = torch.NewDisposeScope()
                let frames = VideoFrames.Read(testsrc (), 5.0, 32, 24)
                let t = values (frames.ToTensor(3, 4)) // (4, 3, 24, 32)

                for n in 0..3 do
                    for c in 0..2 do
                        for y in 0..23 do
                            for x in 0..31 do
                                let b = frames.Pixels[(((3 + n) * 24 + y) * 32 + x) * 3 + c]
                                let v = t[((n * 3 + c) * 24 + y) * 32 + x]

                                if v <> float32 b / 255f then
                                    failtestf "frame %d channel %d (%d, %d): %f, byte %d" (3 + n) c y x v b
            }

            test "errors name the file: missing, no video stream, not a video, ffmpeg absent" {
                let expectError (f: unit -> RgbFrames) (kind: Type) (parts: string list) =
                    Expect.throwsC (f >> ignore) (fun e ->
                        Expect.isTrue (kind.IsInstanceOfType e) $"{kind.Name}, got {e.GetType().Name}: {e.Message}"

                        for p in parts do
                            Expect.stringContains e.Message p "message")

                expectError
                    (fun () -> VideoFrames.Read("/nonexistent/clip.mp4", 5.0, 8, 8))
                    typeof<FileNotFoundException>
                    [ "/nonexistent/clip.mp4" ]

                let tone = reference "video" "tone.wav"
                expectError (fun () -> VideoFrames.Read(tone, 5.0, 8, 8)) typeof<InvalidDataException> [ tone; "no video stream" ]
                use dir = new TempDir()
                let fake = dir.File "fake.mp4"
                File.WriteAllText(fake, "not a video")
                expectError (fun () -> VideoFrames.Read(fake, 5.0, 8, 8)) typeof<InvalidDataException> [ fake; "ffmpeg could not decode" ]

                expectError
                    (fun () -> VideoFrames.Read(testsrc (), 5.0, 8, 8, ffmpeg = "/nonexistent/ffmpeg"))
                    typeof<InvalidOperationException>
                    [ testsrc (); "/nonexistent/ffmpeg"; "apt-get install ffmpeg" ]

                Expect.throwsT<ArgumentOutOfRangeException> (fun () -> VideoFrames.Read(testsrc (), 0.0, 8, 8) |> ignore) "fps 0"
            }

            test "several videos in one ffmpeg process: the frames of each decoded alone, nothing left behind" {
                let red = reference "video" "red.mp4"

                let leftovers () =
                    Directory.GetDirectories(Path.GetTempPath(), $"research-frames-{Environment.ProcessId}-*").Length

                for flags in [ null; "area" ] do
                    let paths = [| testsrc (); red; testsrc () |]

                    match VideoFrames.TryReadMany(paths, 5.0, 32, 24, flags) with
                    | null -> failtest "the batch decodes"
                    | frames ->
                        for k, path in Array.indexed paths do
                            let alone = VideoFrames.Read(path, 5.0, 32, 24, flags)
                            Expect.equal frames[k].Count alone.Count $"{k}: frame count ({flags})"
                            Expect.equal frames[k].Pixels alone.Pixels $"{k}: pixels ({flags})"

                    let pair = VideoFrames.TryReadMany([| testsrc (); red |], 5.0, 32, 24, flags)

                    Expect.notEqual
                        pair[1].Pixels
                        (VideoFrames.Read(testsrc (), 5.0, 32, 24, flags).Pixels)
                        "each output is its own input's"

                Expect.equal (leftovers ()) 0 "no temporary folder left"
            }

            test "a batch with a bad file falls back to one video at a time, whose errors name the file" {
                use dir = new TempDir()
                let fake = dir.File "fake.mp4"
                File.WriteAllText(fake, "not a video")
                let red = reference "video" "red.mp4"
                Expect.isNull (VideoFrames.TryReadMany([| testsrc (); fake |], 5.0, 32, 24)) "a corrupt file: no batch"
                Expect.isNull (VideoFrames.TryReadMany([| testsrc (); dir.File "missing.mp4" |], 5.0, 32, 24)) "a missing file: no batch"

                let batches = VideoFrameBatches(5.0, 32, 24, null)
                Expect.isTrue batches.Batched "small frames are batched"
                batches.Prefetch [ testsrc (); fake; red ]
                Expect.equal batches.FailedBatches 1 "the failed batch is counted"
                Expect.equal (batches.Read(testsrc ()).Pixels) (VideoFrames.Read(testsrc (), 5.0, 32, 24).Pixels) "decoded alone"

                Expect.throwsC (fun () -> batches.Read fake |> ignore) (fun e ->
                    Expect.isTrue (e :? InvalidDataException) $"InvalidDataException, got {e.GetType().Name}"
                    Expect.stringContains e.Message fake "names the file")

                batches.Prefetch [ testsrc (); red ]
                Expect.equal (batches.Read red).Pixels (VideoFrames.Read(red, 5.0, 32, 24).Pixels) "prefetched"
                Expect.equal (batches.Read(testsrc ()).Pixels) (VideoFrames.Read(testsrc (), 5.0, 32, 24).Pixels) "prefetched"
                Expect.equal batches.Prefetched 2 "both handed out from the batch"
                Expect.equal (batches.Read red).Pixels (VideoFrames.Read(red, 5.0, 32, 24).Pixels) "handed out once, then decoded again"
                Expect.equal batches.Prefetched 2 "the second read decoded alone"
                Expect.isFalse (VideoFrameBatches(5.0, 224, 224, null)).Batched "VGG-16's frames are decoded one at a time"
            }
        ]
