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
        ]
