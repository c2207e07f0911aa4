module Research.Model.Tests.Audio.FbankTests

open System
open Expecto
open Research.Model.Audio
open Research.Model.Tests.Audio.References

let private utt1 = lazy (WavReader.Read(file "utt1.wav"))

/// The option sets of make_references.py (OPTION_SETS), as FbankOptions.
let private optionSets =
    [
        "a",
        FbankOptions(
            NumMelBins = 23,
            WindowType = "hamming",
            SnipEdges = false,
            UsePower = false,
            UseEnergy = true,
            EnergyFloor = 1.0,
            LowFreq = 60.0,
            HighFreq = -400.0,
            RemoveDcOffset = false,
            PreemphasisCoefficient = 0.9
        )
        "b",
        FbankOptions(
            NumMelBins = 64,
            WindowType = "blackman",
            RoundToPowerOfTwo = false,
            FrameLengthMs = 30.0,
            FrameShiftMs = 15.0,
            HighFreq = 7000.0,
            UseEnergy = true,
            RawEnergy = false
        )
        "c", FbankOptions(WindowType = "hanning", UseLogFbank = false)
    ]

[<Tests>]
let tests =
    testList
        "Audio.Fbank"
        [
            for name in utterances do
                test $"{name}: 40 log mel energies agree with torchaudio's Kaldi fbank within 1e-3" {
                    let wave = WavReader.Read(file $"{name}.wav")
                    let ours = Fbank.Compute(wave.Samples, wave.SampleRate)
                    let expected = reference $"{name}.fbank.npy"
                    Expect.equal (Array2D.length1 ours) (Array2D.length1 expected) "frame count"
                    Expect.equal (Array2D.length2 ours) 40 "40 bins"
                    Expect.isLessThanOrEqual (maxAbsDiff ours expected) 1e-3 "max |difference|"
                    // torchaudio's float32 FFT itself is off by up to ~1e-3 in quiet low bins; against the same
                    // computation in float64 we agree to ~2e-5 (its mel weights stay float32).
                    Expect.isLessThanOrEqual (maxAbsDiff ours (reference $"{name}.fbank64.npy")) 1e-4 "vs float64"
                }

            for key, options in optionSets do
                test $"options set {key} of make_references.py agrees with torchaudio" {
                    let ours = Fbank.Compute(utt1.Value.Samples, 16000, options)
                    let expected = reference $"utt1.opts-{key}.fbank.npy"
                    Expect.equal (Array2D.length1 ours) (Array2D.length1 expected) "frame count"
                    Expect.equal (Array2D.length2 ours) (Array2D.length2 expected) "columns"

                    if options.UseLogFbank then
                        Expect.isLessThanOrEqual (maxAbsDiff ours expected) 1e-3 "max |difference|"
                    else
                        // Linear energies span 1e-1 .. 1e9: compare relatively, as log does.
                        for i in 0 .. Array2D.length1 ours - 1 do
                            for j in 0 .. Array2D.length2 ours - 1 do
                                let a, b = float ours[i, j], float expected[i, j]

                                if abs (a - b) > 1e-3 * abs b + 1e-3 then
                                    failtestf "frame %d bin %d: ours %g, torchaudio %g" i j a b
                }

            test "the frame count is 1 + (n - 400) / 160 at 16 kHz; fewer than 400 samples is an error naming the item" {
                for n, frames in [ 400, 1; 559, 1; 560, 2; 16000, 98 ] do
                    let x = sine 1000.0 440.0 16000 n
                    Expect.equal (Array2D.length1 (Fbank.Compute(x, 16000))) frames $"{n} samples"

                Expect.throwsC (fun () -> Fbank.Compute(Array.zeroCreate 399, 16000, item = "utt-42") |> ignore) (fun e ->
                    Expect.isTrue (e :? ArgumentException) "ArgumentException"
                    Expect.stringContains e.Message "utt-42: 399 samples" "names the item and its length"
                    Expect.stringContains e.Message "one frame (400 samples" "says what was expected")
            }

            test "a pure tone peaks in the mel bin whose centre is nearest to it" {
                let x = sine 10000.0 1000.0 16000 4000
                let f = Fbank.Compute(x, 16000)
                // Kaldi's bin centres: mel(20 Hz) + (b + 1) * delta.
                let mel (hz: float) = 1127.0 * log (1.0 + hz / 700.0)
                let delta = (mel 8000.0 - mel 20.0) / 41.0

                let nearest =
                    [ 0..39 ]
                    |> List.minBy (fun b -> abs (mel 20.0 + float (b + 1) * delta - mel 1000.0))

                let peak = [ 0..39 ] |> List.maxBy (fun b -> f[5, b])
                Expect.equal peak nearest "peak bin"
            }

            test "silence gives log(float32 epsilon) in every bin" {
                let f = Fbank.Compute(Array.zeroCreate 800, 16000)
                let floor = float32 (log Fbank.Epsilon)
                Expect.all (Seq.cast<float32> f) (fun v -> v = floor) "floored"
            }

            test "dither is reproducible from its seed and changes the features slightly" {
                let x = utt1.Value.Samples
                let dithered = FbankOptions(Dither = 1.0)
                let a = Fbank.Compute(x, 16000, dithered)
                let b = Fbank.Compute(x, 16000, dithered)
                let c = Fbank.Compute(x, 16000, FbankOptions(Dither = 1.0, DitherSeed = 1))
                let plain = Fbank.Compute(x, 16000)
                Expect.equal (maxAbsDiff a b) 0.0 "same seed, same features"
                Expect.isGreaterThan (maxAbsDiff a c) 0.0 "another seed, other features"
                Expect.isGreaterThan (maxAbsDiff a plain) 0.0 "dither changes something"
            }

            test "an instance plan equals the cached static computation and reports its dimension" {
                let options = FbankOptions(UseEnergy = true)
                let plan = Fbank(16000, options)
                Expect.equal plan.Dim 41 "40 bins + energy"
                let x = utt1.Value.Samples
                Expect.equal (maxAbsDiff (plan.Compute(ReadOnlySpan x)) (Fbank.Compute(x, 16000, options))) 0.0 "same"
            }

            test "bad options are errors naming the option and value" {
                let check (options: FbankOptions) (fragment: string) =
                    Expect.throwsC (fun () -> Fbank(16000, options) |> ignore) (fun e ->
                        Expect.isTrue (e :? ArgumentException) "ArgumentException"
                        Expect.stringContains e.Message fragment "message")

                check (FbankOptions(WindowType = "kaiser")) "WindowType 'kaiser'"
                check (FbankOptions(HighFreq = 9000.0)) "high frequency 9000 Hz"
                check (FbankOptions(NumMelBins = 3)) "at least 4 mel bins"
                check (FbankOptions(NumMelBins = 200)) "covers no FFT bin"
                check (FbankOptions(PreemphasisCoefficient = 1.5)) "PreemphasisCoefficient 1.5"
            }
        ]
