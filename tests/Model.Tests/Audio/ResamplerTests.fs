module Research.Model.Tests.Audio.ResamplerTests

open System
open Expecto
open Research.Model.Audio
open Research.Model.Tests.Audio.References

/// Largest |y - sine| over output samples at least `margin` samples from either end (the edges see zeros).
let private interiorError (y: float32[]) (expected: float32[]) (margin: int) =
    maxAbsDiffVec y[margin .. y.Length - 1 - margin] expected[margin .. y.Length - 1 - margin]

/// Amplitude of the component at frequency f in y (least squares against sin and cos), over the interior.
let private amplitudeAt (y: float32[]) (f: float) (rate: int) (margin: int) =
    let mutable s = 0.0
    let mutable c = 0.0

    for i in margin .. y.Length - 1 - margin do
        let phase = 2.0 * Math.PI * f * float i / float rate
        s <- s + float y[i] * sin phase
        c <- c + float y[i] * cos phase

    let n = float (y.Length - 2 * margin)
    2.0 * sqrt (s * s + c * c) / n

[<Tests>]
let tests =
    testList
        "Audio.Resampler"
        [
            test "8 kHz to 16 kHz keeps a 1 kHz sine's frequency, phase and amplitude" {
                let x = sine 10000.0 1000.0 8000 8000
                let y = Resampler.Resample(x, 8000, 16000)
                Expect.equal y.Length 16000 "twice the samples"
                // measured 0.14: a flat passband; 1.0 is 1e-4 of the amplitude
                Expect.isLessThan (interiorError y (sine 10000.0 1000.0 16000 16000) 200) 1.0 "the same sine at 16 kHz"
            }

            test "44.1 kHz to 16 kHz keeps a 3 kHz sine and removes an 11 kHz one (above the new Nyquist)" {
                let n = 44100
                let low = sine 8000.0 3000.0 44100 n
                let high = sine 8000.0 11000.0 44100 n
                let y = Resampler.Resample(Array.map2 (+) low high, 44100, 16000)
                Expect.equal y.Length 16000 "ceil(n * 16000 / 44100)"
                Expect.isLessThan (interiorError y (sine 8000.0 3000.0 16000 16000) 200) 1.0 "the 3 kHz sine, nothing else"
                // Without a low-pass, 11 kHz would alias to 5 kHz at full amplitude (measured: 0.004, -125 dB).
                Expect.isLessThan (amplitudeAt y 5000.0 16000 200) 0.8 "alias at 5 kHz below -80 dB"
            }

            test "16 kHz to 22.05 kHz and back returns a band-limited signal" {
                let rng = Random 3
                // a sum of sines below 6 kHz (inside the passband of both directions)
                let freqs = [ 120.0; 440.0; 1700.0; 3100.0; 5900.0 ]
                let phases = freqs |> List.map (fun _ -> rng.NextDouble() * 2.0 * Math.PI)

                let x =
                    Array.init 16000 (fun i ->
                        List.map2 (fun f p -> 2000.0 * sin (2.0 * Math.PI * f * float i / 16000.0 + p)) freqs phases
                        |> List.sum
                        |> float32)

                let up = Resampler.Resample(x, 16000, 22050)
                let back = Resampler.Resample(up, 22050, 16000)
                Expect.equal back.Length x.Length "same length"
                Expect.isLessThan (interiorError back x 300) 10.0 "within 1e-3 of full scale of the signal"
            }

            test "a constant stays constant away from the edges (unit DC gain in every phase)" {
                let y = Resampler.Resample(Array.create 3000 1000.0f, 16000, 44100)
                Expect.isLessThan (interiorError y (Array.create y.Length 1000.0f) 300) 1e-2 "constant"
            }

            test "the same rate returns a copy; bad rates are errors naming the parameter" {
                let x = [| 1.0f; 2.0f |]
                let y = Resampler.Resample(x, 16000, 16000)
                Expect.equal y x "equal"
                Expect.isFalse (obj.ReferenceEquals(x, y)) "a copy"

                Expect.throwsC (fun () -> Resampler.Resample(x, 0, 16000) |> ignore) (fun e ->
                    Expect.stringContains e.Message "fromRate" "names the rate")
            }

            test "a WAV at 8 kHz loads at 16 kHz through the resampler and agrees with sox's own resampling" {
                // clip.8k.wav is sox's 16 -> 8 kHz; ours 8 -> 16 kHz must give back the clip's content below ~3.4 kHz.
                let ours = AudioFile.Load(file "clip.8k.wav", 16000)
                let clip = AudioFile.Load(file "clip.wav", 16000)
                Expect.equal ours.SampleRate 16000 "rate"
                Expect.equal ours.Samples.Length clip.Samples.Length "length"
                // Compare low-passed versions: both through 16 -> 8 -> 16 kHz by our resampler vs sox + ours.
                let roundTrip =
                    Resampler.Resample(Resampler.Resample(clip.Samples, 16000, 8000), 8000, 16000)

                let err = Array.map2 (-) ours.Samples roundTrip

                let energy (v: float32[]) =
                    v |> Array.sumBy (fun x -> float x * float x)

                let snr = 10.0 * log10 (energy roundTrip / energy err)
                // measured 40 dB; the two low-pass filters differ only in their transition bands
                Expect.isGreaterThan snr 30.0 $"SNR {snr:F1} dB between sox's and our down-sampling"
            }
        ]
