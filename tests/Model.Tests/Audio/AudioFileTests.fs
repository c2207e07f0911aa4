module Research.Model.Tests.Audio.AudioFileTests

open System
open System.IO
open Expecto
open Research.Model.Audio
open Research.Model.Tests.Audio.References

let private clip = lazy (AudioFile.Load(file "clip.wav"))

/// Signal-to-noise ratio of y against x in dB, after the lag in [-maxLag, maxLag] that aligns them best
/// (AAC decoders may keep part of the encoder's priming delay).
let private alignedSnr (x: float32[]) (y: float32[]) (maxLag: int) =
    let n = min x.Length y.Length

    let snrAt lag =
        let mutable signal = 0.0
        let mutable noise = 0.0

        for i in maxLag .. n - 1 - maxLag do
            let a = float x[i]
            let b = float y[i + lag]
            signal <- signal + a * a
            noise <- noise + (a - b) * (a - b)

        10.0 * log10 (signal / noise)

    [ -maxLag .. maxLag ] |> List.map (fun lag -> lag, snrAt lag) |> List.maxBy snd

[<Tests>]
let tests =
    testList
        "Audio.AudioFile"
        [
            test "FLAC (through ffmpeg) decodes to exactly the WAV's samples" {
                let w = AudioFile.Load(file "clip.flac")
                Expect.equal w.SampleRate 16000 "rate"
                Expect.equal (maxAbsDiffVec w.Samples clip.Value.Samples) 0.0 "lossless"
            }

            test "AAC in m4a (through ffmpeg) decodes to the clip within the codec's error" {
                let w = AudioFile.Load(file "clip.m4a")
                Expect.equal w.SampleRate 16000 "rate"
                Expect.isLessThanOrEqual (abs (w.Samples.Length - clip.Value.Samples.Length)) 1024 "length within one AAC frame"
                let lag, snr = alignedSnr clip.Value.Samples w.Samples 64
                // 96 kb/s AAC of this clip measures 33 dB at lag 0; one sample off already gives 8.5 dB, and a wrong
                // decode (noise, rate, scale) < 3 dB. 20 dB leaves room for another ffmpeg's AAC decoder.
                Expect.isGreaterThan snr 20.0 $"SNR {snr:F1} dB at lag {lag}"
                // The features, what the model sees, agree closely.
                let a = Fbank.Compute(clip.Value.Samples, 16000)
                let b = Fbank.Compute(w.Samples[lag .. lag + clip.Value.Samples.Length - 1], 16000)

                let flat (m: float32[,]) =
                    m |> Seq.cast<float32> |> Seq.map float |> Array.ofSeq

                let r = pearson (flat a) (flat b)
                Expect.isGreaterThan r 0.98 $"fbank correlation {r:F4}"
            }

            test "ffmpeg resamples non-WAV input to the requested rate" {
                let w = AudioFile.Load(file "clip.flac", 8000)
                Expect.equal w.SampleRate 8000 "rate"
                Expect.equal w.Samples.Length (clip.Value.Samples.Length / 2) "half the samples"
            }

            test "a file ffmpeg cannot read is an error naming the file and quoting ffmpeg" {
                withTempDir (fun dir ->
                    let path = Path.Combine(dir, "broken.m4a")
                    File.WriteAllText(path, "this is not audio")

                    Expect.throwsC (fun () -> AudioFile.Load path |> ignore) (fun e ->
                        Expect.isTrue (e :? InvalidDataException) "InvalidDataException"
                        Expect.stringContains e.Message path "names the file"
                        Expect.stringContains e.Message "ffmpeg could not decode it" "says ffmpeg failed"
                        Expect.stringContains e.Message "Invalid data" "quotes ffmpeg's error"))
            }

            test "a missing ffmpeg is an error naming the file and the program" {
                Expect.throwsC (fun () -> FfmpegDecoder.Decode(file "clip.flac", 16000, "/nonexistent/ffmpeg") |> ignore) (fun e ->
                    Expect.stringContains e.Message (file "clip.flac") "names the file"
                    Expect.stringContains e.Message "'/nonexistent/ffmpeg' could not be started" "names the program")
            }

            test "a missing file is a FileNotFoundException naming it" {
                let path = Path.Combine(repoRoot, "no-such-file.wav")

                Expect.throwsC (fun () -> AudioFile.Load path |> ignore) (fun e ->
                    Expect.isTrue (e :? FileNotFoundException) "FileNotFoundException"
                    Expect.stringContains e.Message path "names the file")
            }

            test "WAV at the requested rate is returned as read, in the int16 scale" {
                let w = AudioFile.Load(file "clip.f32.wav", 16000)
                Expect.equal w.Samples clip.Value.Samples "the same samples"
                Expect.floatClose Accuracy.veryHigh w.Seconds 0.5 "0.5 s"
            }
        ]
