/// The numbers a training step is made of, against hand-computed values: the emotion loss's positive-class weights,
/// the learning-rate schedule and gradient clipping.
module Research.Model.Tests.Training.TrainingRulesTests

open System.IO
open Expecto
open TorchSharp
open Research.Model
open Research.Model.Data
open Research.Model.Models
open Research.Model.Training
open Research.Model.Tests.Fixtures
open Research.Model.Tests.EmbeddingFixtures
open Research.Model.Tests.ReferenceFiles
open Research.Experiments

/// Intensities of seven items (rows) for the six emotions (columns). Per emotion: happy 2 present (0.1 counts, 0
/// does not), sad none, anger 3, surprise 1, disgust all 7, fear 4.
let private intensities =
    array2D
        [
            [ 0.1f; 0.0f; 1.0f; 0.0f; 3.0f; 0.3f ]
            [ 0.0f; 0.0f; 0.0f; 0.0f; 1.0f; 0.0f ]
            [ 0.0f; 0.0f; 2.0f; 0.0f; 0.5f; 1.0f ]
            [ 2.0f; 0.0f; 0.0f; 0.0f; 0.1f; 0.0f ]
            [ 0.0f; 0.0f; 0.0f; 1.5f; 2.0f; 2.0f ]
            [ 0.0f; 0.0f; 0.3f; 0.0f; 0.2f; 0.0f ]
            [ 0.0f; 0.0f; 0.0f; 0.0f; 1.0f; 3.0f ]
        ]

/// Global L2 norm of the parameters' gradients, in float64.
let private gradNorm (m: torch.nn.Module) =
    m.parameters ()
    |> Seq.sumBy (fun p -> p.grad.to_type(torch.float64).square().sum().item<float>())
    |> sqrt

let private gradients (m: torch.nn.Module) =
    [ for p in m.parameters () -> p.grad.detach().clone() ]

/// A tiny late-fusion model (dropout 0, so training mode is deterministic), a batch and its targets.
let private subject () =
    torch.manual_seed 11L |> ignore
    let m = new LateFusionModel(Research.Model.Tests.LateFusionModelTests.tinyLate)
    let input = batch (examples 12 tiny [ (6, 5, 4); (4, 3, 2); (7, 2, 3) ])

    let emotions =
        torch.tensor([| for i in 0..17 -> if (i * 5) % 3 = 0 then 1.0f else 0.0f |]).reshape(3L, 6L)

    m, input, Targets(null, null, null, emotions)

/// The gradients of one forward/backward of a fresh subject in training mode, and the subject.
let private reference () =
    let m, input, targets = subject ()
    let criterion = MultiTaskCriterion(TaskWeights.EmotionOnly)
    m.train ()
    m.zero_grad ()

    criterion.Compute((m :> ITaskModel).Forward(input, null), targets).Total.backward()

    gradients m, gradNorm m

/// Runs one TrainStep with `clip` on a fresh subject; returns the step's result and the gradients it left.
let private stepWith (clip: float) =
    let m, input, targets = subject ()

    let step =
        TrainStep(m, MultiTaskCriterion(TaskWeights.EmotionOnly), LearningRateSchedule(0.01, 1, 1), clip)

    let result = step.Run(input, targets)
    result, gradients m, gradNorm m


/// Parameters of two groups (300,001 values: the parallel path at two threads, and a tail that is no multiple of 8;
/// 17 values; 6 values at a higher rate), of element type `dtype`, seeded.
let private adamSubject (dtype: torch.ScalarType) =
    torch.manual_seed 5L |> ignore

    let ps =
        [ 300_001L; 17L; 6L ]
        |> List.map (fun n -> torch.nn.Parameter(torch.randn ([| n |], dtype = dtype)))

    let optimiser =
        torch.optim.Adam(
            [
                Modules.Adam.ParamGroup([ ps[0]; ps[1] ], 0.01, 0.9, 0.98, 1e-9)
                Modules.Adam.ParamGroup([ ps[2] ], 0.03, 0.9, 0.98, 1e-9)
            ],
            lr = 0.01,
            beta1 = 0.9,
            beta2 = 0.98,
            eps = 1e-9
        )

    ps, optimiser

/// Gradients of a loss whose curvature differs per element (so that Adam's moments matter), at step `n`.
let private adamBackward (ps: Modules.Parameter list) (n: int) =
    for p in ps do
        p.grad <- null

    let weights (p: torch.Tensor) =
        torch
            .arange(p.numel (), dtype = p.dtype)
            .remainder(torch.tensor (7.0, dtype = p.dtype))
            .add(torch.tensor (float n, dtype = p.dtype))

    let loss =
        ps
        |> List.map (fun p -> (p * p * weights p).sum() + p.sin().sum())
        |> List.reduce (+)

    loss.backward ()

/// The largest difference between two tensors over the largest magnitude of the second.
let private relativeGap (a: torch.Tensor) (b: torch.Tensor) =
    (a - b).abs().max().item<float32>() / b.abs().max().item<float32>() |> float

/// The state TorchSharp's Adam keeps for each parameter, copied.
let private adamState (o: Modules.Adam) =
    [
        for s in o.state_dict().State ->
            let s = s :?> Modules.Adam.State
            s.step, s.exp_avg.clone (), s.exp_avg_sq.clone ()
    ]

[<Tests>]
let tests =
    testList
        "TrainingRules"
        [
            test "positive weights are negatives / positives per emotion of the training items; 1 without positives or negatives" {
                use dir = new TempDir()

                let items =
                    storeItems 3 tiny [ for _ in 1..7 -> (3, 2, 2) ]
                    |> List.mapi (fun i it ->
                        { it with
                            Features =
                                readOnlyDict
                                    [
                                        for kv in it.Features -> kv.Key, kv.Value
                                        yield CorpusFeatures.Labels, Array2D.init 1 6 (fun _ e -> intensities[i, e])
                                    ]
                        })

                use store = FeatureStore.Open(buildStore (dir.File "train") items)
                // by hand: happy 5/2, sad no positives → 1, anger 4/3, surprise 6/1, disgust no negatives → 1, fear 3/4
                let expected = [| 2.5f; 1.0f; 4.0f / 3.0f; 6.0f; 1.0f; 0.75f |]
                let got = FineTune.positiveWeights (EmotionData store)
                Expect.equal got.Length 6 "one weight per emotion"

                for e in 0..5 do
                    Expect.floatClose Accuracy.veryHigh (float got[e]) (float expected[e]) Metrics.emotions[e]
            }

            test "the learning rate is k·d^-0.5·min(n^-0.5, n·warmup^-1.5): linear warm-up, peak at warmup, then 1/√n" {
                // k 2, d 16, warm-up 4: k·d^-0.5 = 0.5; warm-up 0.5·n/8; peak 0.5/2 = 0.25 at n = 4; then 0.5/√n.
                let s = LearningRateSchedule(2.0, 16, 4)

                let byHand =
                    [
                        1L, 0.0625
                        2L, 0.125
                        3L, 0.1875
                        4L, 0.25
                        9L, 0.5 / 3.0
                        16L, 0.125
                        100L, 0.05
                        10000L, 0.005
                    ]

                for n, lr in byHand do
                    Expect.floatClose Accuracy.veryHigh (s.At n) lr $"step {n}"

                Expect.isLessThan (s.At 5L) (s.At 4L) "decays after the warm-up"

                Expect.throwsT<System.ArgumentOutOfRangeException> (fun () -> s.At 0L |> ignore) "steps count from 1"

                // The paper's fine-tuning configuration, as its record gives it.
                let paper = Config.paperFineTuning.Budget
                let d = Config.paperFineTuning.Model.DModel
                let p = LearningRateSchedule(paper.LrFactor, d, paper.Warmup)
                let peak = paper.LrFactor / sqrt (float d) / sqrt (float paper.Warmup)
                Expect.floatClose Accuracy.veryHigh (p.At(int64 paper.Warmup)) peak "paper peak k/√(d·warmup)"

                Expect.floatClose
                    Accuracy.veryHigh
                    (p.At(int64 paper.Warmup * 4L))
                    (peak / 2.0)
                    "paper: half the peak at four times the warm-up"
            }

            test "a training step runs at the scheduled rate and clips the global gradient norm to the max norm" {
                use _ = torch.NewDisposeScope()
                let g, norm = reference ()
                Expect.isGreaterThan norm 1e-3 "a gradient to clip"

                // above the norm: clipped to it, direction kept
                let clip = norm / 4.0
                let result, clipped, clippedNorm = stepWith clip
                Expect.floatClose Accuracy.high result.GradNorm norm "the step reports the norm before clipping"
                Expect.floatClose { absolute = 0.0; relative = 1e-5 } clippedNorm clip "norm after clipping = max norm"

                for a, b in List.zip g clipped do
                    let scaled = a * (clip / norm)
                    Expect.isLessThan ((b - scaled).abs().max().item<float32>()) 1e-6f "each gradient scaled by max/norm"

                Expect.floatClose Accuracy.veryHigh result.LearningRate 0.01 "lr(1) = 0.01 · 1 · min(1, 1)"

                // below the norm: unchanged
                let _, kept, keptNorm = stepWith (norm * 4.0)
                Expect.floatClose Accuracy.veryHigh keptNorm norm "norm unchanged"

                for a, b in List.zip g kept do
                    Expect.isLessThanOrEqual ((b - a).abs().max().item<float32>()) 1e-7f "each gradient unchanged"
            }

            test "one fused pass (FusedAdam) clips and updates as clip_grad_norm_ then TorchSharp's Adam, step by step" {
                use _ = torch.NewDisposeScope()
                let threads = torch.get_num_threads ()

                try
                    for t in [ 1; 2 ] do
                        torch.set_num_threads t
                        let reference, torchAdam = adamSubject torch.float32
                        let fused, fusedAdam = adamSubject torch.float32
                        let initial = fused |> List.map (fun p -> p.detach().clone())

                        // Max norms below and above the gradient's norm: steps with clipping and without.
                        for n, maxNorm in [ 1, 5.0; 2, 1e6; 3, 50.0; 4, 1e6; 5, 1.0; 6, 1e6 ] do
                            adamBackward reference n
                            adamBackward fused n
                            let expectedNorm = torch.nn.utils.clip_grad_norm_ (reference, maxNorm)
                            torchAdam.step () |> ignore
                            let norm = FusedAdam.ClipAndStep(fusedAdam, maxNorm)

                            Expect.floatClose
                                { absolute = 0.0; relative = 1e-5 }
                                norm
                                expectedNorm
                                $"{t} threads, step {n}: norm before clipping"

                            for i, (a, b) in List.indexed (List.zip reference fused) do
                                // A thousandth of one step's change (~lr): rounding differences grow where the
                                // first moment nearly cancels; a wrong formula is off by a good part of a step.
                                let difference = (a - b).abs().max().item<float32>()
                                Expect.isLessThan difference 1e-5f $"{t} threads, step {n}, parameter {i}: values"

                                let gradient = (a.grad - b.grad).abs().max().item<float32>()

                                Expect.isLessThan
                                    gradient
                                    1e-4f
                                    $"{t} threads, step {n}, parameter {i}: gradients left clipped as clip_grad_norm_ leaves them"

                            for i, ((s1, m1, v1), (s2, m2, v2)) in List.indexed (List.zip (adamState torchAdam) (adamState fusedAdam)) do
                                Expect.equal s2 s1 $"{t} threads, step {n}, parameter {i}: step count"
                                Expect.isLessThan (relativeGap m2 m1) 1e-5 $"{t} threads, step {n}, parameter {i}: exp_avg"
                                Expect.isLessThan (relativeGap v2 v1) 1e-5 $"{t} threads, step {n}, parameter {i}: exp_avg_sq"

                        // Six steps moved every value by about six learning rates (Adam's update is normalised).
                        let moved = (fused[2] - initial[2]).abs().min().item<float32>()
                        Expect.isGreaterThan moved 0.05f $"{t} threads: the second group's values moved"
                finally
                    torch.set_num_threads threads
            }

            test "dropping the gradients before each step updates bit for bit as zero_grad does, streams left out included" {
                use _ = torch.NewDisposeScope()
                // The any-subset encoder on batches that leave out text, then video: their branches get no gradient
                // in those steps after having had one, and zero_grad leaves them a zero gradient that Adam still
                // steps on (moments decay, values move). Dropout on, so masks are drawn as in training.
                let config = tinyWith (TaskWeights(0.8, 0.2, 1.0)) ModalityWeights.Paper
                let config = config.WithAnySubset(true, 0.0).WithDropout(0.1)

                let batches =
                    [
                        for seed, drop in [ 1, ""; 2, "text"; 3, ""; 4, "video"; 5, "text"; 6, "" ] ->
                            let struct (input, targets) =
                                SyntheticBatch.Create(config, BatchShape(3, 12, 10, 5, 8), seed, torch.CPU)

                            let input =
                                match drop with
                                | "text" -> EncoderInput(input.Audio, input.Video, null)
                                | "video" -> EncoderInput(input.Audio, null, input.Text)
                                | _ -> input

                            input, targets
                    ]

                let train (zeroGrad: bool) =
                    torch.manual_seed 5L |> ignore
                    let m = new MultiTaskModel(config)

                    let step =
                        TrainStep(m, MultiTaskCriterion(config.Tasks, config.LabelSmoothing), LearningRateSchedule(0.05, 16, 2))

                    step.UseZeroGrad <- zeroGrad
                    let losses = [ for input, targets in batches -> step.Run(input, targets).Total ]

                    let values =
                        [ for struct (name, p) in m.named_parameters () -> name, p.detach().clone() ]

                    losses, values

                let zeroLosses, zeroValues = train true
                let droppedLosses, droppedValues = train false
                Expect.sequenceEqual droppedLosses zeroLosses "every step's loss"

                for (name, a), (_, b) in List.zip zeroValues droppedValues do
                    Expect.isTrue ((a.eq b).all().item<bool>()) $"{name}: values after the last step"
            }

            test "FusedAdam takes TorchSharp's own path for tensors it cannot address (float64)" {
                use _ = torch.NewDisposeScope()
                let reference, torchAdam = adamSubject torch.float64
                let fused, fusedAdam = adamSubject torch.float64

                for n in 1..3 do
                    adamBackward reference n
                    adamBackward fused n
                    let expectedNorm = torch.nn.utils.clip_grad_norm_ (reference, 10.0)
                    torchAdam.step () |> ignore
                    Expect.equal (FusedAdam.ClipAndStep(fusedAdam, 10.0)) expectedNorm $"step {n}: norm"

                    for a, b in List.zip reference fused do
                        Expect.isTrue (a.eq(b).all().item<bool>()) $"step {n}: identical values"
            }
        ]
