module Research.Model.Tests.Audio.WavReaderTests

open System
open System.IO
open Expecto
open Research.Model.Audio
open Research.Model.Tests.Audio.References

/// Writes bytes to a file in a temporary folder, loads it with AudioFile.Load and returns the error, which
/// must be an InvalidDataException whose message names the file and contains every expected fragment.
let private expectError (bytes: byte[]) (fragments: string list) =
    withTempDir (fun dir ->
        let path = Path.Combine(dir, "bad.wav")
        File.WriteAllBytes(path, bytes)

        Expect.throwsC (fun () -> AudioFile.Load path |> ignore) (fun e ->
            Expect.isTrue (e :? InvalidDataException) $"an InvalidDataException, got {e.GetType().Name}: {e.Message}"
            Expect.stringContains e.Message path "the message names the file"

            for f in fragments do
                Expect.stringContains e.Message f "the message says what was found"))

let private clip = lazy (WavReader.Read(file "clip.wav"))

[<Tests>]
let tests =
    testList
        "Audio.WavReader"
        [
            test "16-bit mono speech decodes to the same samples as ffmpeg" {
                let ours = WavReader.Read(file "utt1.wav")
                let ffmpeg = FfmpegDecoder.Decode(file "utt1.wav", 16000)
                Expect.equal ours.SampleRate 16000 "rate"
                Expect.equal ours.Samples.Length ffmpeg.Samples.Length "length"
                Expect.equal (maxAbsDiffVec ours.Samples ffmpeg.Samples) 0.0 "samples"
                Expect.isGreaterThan (ours.Samples |> Array.map abs |> Array.max) 1000.0f "int16 scale, not [-1, 1]"
            }

            test "24- and 32-bit PCM (WAVE_FORMAT_EXTENSIBLE) and 32/64-bit float decode exactly to the 16-bit clip" {
                for name in [ "clip.s24.wav"; "clip.s32.wav"; "clip.f32.wav"; "clip.f64.wav" ] do
                    let w = WavReader.Read(file name)
                    Expect.equal w.SampleRate 16000 $"{name}: rate"
                    Expect.equal (maxAbsDiffVec w.Samples clip.Value.Samples) 0.0 $"{name}: samples"
            }

            test "8-bit unsigned PCM decodes to the clip within its quantisation step" {
                let w = WavReader.Read(file "clip.u8.wav")
                // One 8-bit step is 256 in the int16 scale; sox rounds to the nearest step.
                Expect.isLessThanOrEqual (maxAbsDiffVec w.Samples clip.Value.Samples) 128.0 "within half a step"
                Expect.isGreaterThan (maxAbsDiffVec w.Samples clip.Value.Samples) 0.0 "really quantised"
            }

            test "stereo is averaged to mono" {
                // clip.stereo.wav: left = clip, right = clip reversed in time.
                let w = WavReader.Read(file "clip.stereo.wav")
                let x = clip.Value.Samples
                let n = x.Length
                let expected = Array.init n (fun i -> (x[i] + x[n - 1 - i]) / 2.0f)
                Expect.equal (maxAbsDiffVec w.Samples expected) 0.0 "mean of the channels"
            }

            test "three channels are averaged" {
                let frames = [ 300s; -600s; 900s; 3s; 4s; 5s ] // two frames of (a, b, c)
                let w = WavReader.Read(wav16 8000 3 frames, "three.wav")
                Expect.equal w.Samples [| 200.0f; 4.0f |] "averages"
                Expect.equal w.SampleRate 8000 "rate"
            }

            test "WAVE_FORMAT_EXTENSIBLE float scales 1.0 to 32768" {
                let values = [ 0.5f; -1.0f; 0.25f; 1.0f ]

                let bytes =
                    riff
                        [
                            chunk "fmt " (fmtExtensibleBody 3 1 16000 32)
                            chunk "data" (float32Bytes values)
                        ]

                Expect.equal (WavReader.Read(bytes, "x.wav").Samples) [| 16384.0f; -32768.0f; 8192.0f; 32768.0f |] "scaled"
            }

            test "unknown chunks are skipped, odd sizes padded" {
                let samples = [ 1s; -2s; 3s; 32767s; -32768s ]

                let bytes =
                    riff
                        [
                            chunk "LIST" [| 1uy; 2uy; 3uy |] // odd: one pad byte follows
                            chunk "fmt " (fmtBody 1 1 16000 16)
                            chunk "junk" [| 9uy |]
                            chunk "data" (int16Bytes samples)
                            chunk "id3 " [| 7uy; 7uy; 7uy |]
                        ]

                Expect.equal (WavReader.Read(bytes, "x.wav").Samples) [| 1.0f; -2.0f; 3.0f; 32767.0f; -32768.0f |] "samples"
            }

            test "a data size of 0xFFFFFFFF (streamed WAV) means up to the end of the file" {
                let bytes = wav16 16000 1 [ 5s; 6s; 7s ]
                // The data size field sits just before the samples, after a 24-byte fmt chunk: 12 + 24 + 4.
                BitConverter.GetBytes 0xFFFFFFFFu |> Array.iteri (fun i b -> bytes[40 + i] <- b)
                Expect.equal (WavReader.Read(bytes, "x.wav").Samples) [| 5.0f; 6.0f; 7.0f |] "samples"
            }

            test "a truncated data chunk is an error naming the file" {
                let bytes = wav16 16000 1 [ 1s; 2s; 3s; 4s ]
                expectError bytes[.. bytes.Length - 3] [ "truncated"; "declares 8 bytes"; "6 remain" ]
            }

            test "a data chunk that is not whole sample frames is an error" {
                let bytes =
                    riff
                        [
                            chunk "fmt " (fmtBody 1 2 16000 16)
                            chunk "data" (int16Bytes [ 1s; 2s; 3s ])
                        ]

                expectError bytes [ "truncated"; "6 bytes"; "4-byte sample frames" ]
            }

            test "missing fmt or data chunks are errors naming the file" {
                expectError (riff [ chunk "data" (int16Bytes [ 1s ]) ]) [ "before any 'fmt '" ]
                expectError (riff [ chunk "fmt " (fmtBody 1 1 16000 16) ]) [ "no 'data' chunk" ]
                expectError (riff [ chunk "LIST" [| 1uy |] ]) [ "no 'fmt ' chunk and no 'data' chunk" ]
            }

            test "zero-length audio is an error naming the file" {
                expectError (wav16 16000 1 []) [ "zero-length" ]

                withTempDir (fun dir ->
                    let path = Path.Combine(dir, "empty.wav")
                    File.WriteAllBytes(path, [||])

                    Expect.throwsC (fun () -> AudioFile.Load path |> ignore) (fun e ->
                        Expect.stringContains e.Message path "names the file"
                        Expect.stringContains e.Message "empty" "says it is empty"))
            }

            test "A-law, 12-bit PCM, 16-bit float and unknown sub-formats are unsupported, by name" {
                let alaw = riff [ chunk "fmt " (fmtBody 6 1 8000 8); chunk "data" [| 1uy; 2uy |] ]
                expectError alaw [ "0x0006"; "A-law" ]

                let pcm12 =
                    riff [ chunk "fmt " (fmtBody 1 1 16000 12); chunk "data" [| 1uy; 2uy |] ]

                expectError pcm12 [ "12-bit PCM" ]

                let float16 =
                    riff [ chunk "fmt " (fmtBody 3 1 16000 16); chunk "data" [| 1uy; 2uy |] ]

                expectError float16 [ "16-bit IEEE float" ]
                let ext = fmtExtensibleBody 1 1 16000 16
                ext[26] <- 0xFFuy // break the GUID
                expectError (riff [ chunk "fmt " ext; chunk "data" [| 1uy; 2uy |] ]) [ "sub-format GUID" ]
            }

            test "NaN and infinite float samples are errors naming the sample" {
                let values = [ 0.5f; 0.25f; nanf; 0.0f ]

                let bytes =
                    riff [ chunk "fmt " (fmtBody 3 1 16000 32); chunk "data" (float32Bytes values) ]

                expectError bytes [ "sample 2 of channel 0 is NaN" ]

                let inf =
                    riff
                        [
                            chunk "fmt " (fmtBody 3 1 16000 32)
                            chunk "data" (float32Bytes [ infinityf ])
                        ]

                expectError inf [ "sample 0 of channel 0 is Infinity" ]
            }

            test "a file that is not RIFF/WAVE is refused by the WAV reader, naming it" {
                Expect.throwsC (fun () -> WavReader.Read("not a wav file"B, "notes.wav") |> ignore) (fun e ->
                    Expect.stringContains e.Message "notes.wav: not a RIFF/WAVE file" "message")
            }
        ]
