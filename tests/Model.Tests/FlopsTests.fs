module Research.Model.Tests.FlopsTests

open Expecto
open TorchSharp
open Research.Model
open Research.Model.Tests.Fixtures
open Research.Model.Tests.LateFusionModelTests
open Research.Model.Models
open Research.Model.Modules
open Research.Model.Training

/// The FLOPs of every matrix-weight parameter of a built model, each times the rows it is applied to (read from the
/// parameter's name), so a Linear the analytic count forgot shows up here. Embedding tables are lookups, not products.
let private linearFlops (m: torch.nn.Module) (rowsOf: string -> int64) =
    [
        for struct (name, p) in m.named_parameters () do
            if p.dim () = 2L && not (name.Contains "embed") then
                yield 2L * rowsOf name * p.numel ()
    ]
    |> List.sum

[<Tests>]
let tests =
    testSequenced
    <| testList
        "Flops"
        [
            test "one attention block, by hand" {
                // batch 2, 3 queries, 5 keys, d 4. Multiply-adds: q and out 2·3·4·4 = 96 each, k and v 2·5·4·4 = 160
                // each, QKᵀ and AV 2·3·5·4 = 120 each; 752 in all, 1,504 FLOPs.
                Expect.equal (Flops.Attention(2L, 3L, 5L, 4L)) 1504L "FLOPs"
            }

            test "a one-layer audio-only emotion model, by hand" {
                let config =
                    ModelConfig(
                        AudioDim = 10,
                        DModel = 16,
                        Heads = 2,
                        FeedForward = 20,
                        AudioLayers = 1,
                        Emotions = 6,
                        Tasks = TaskWeights.EmotionOnly,
                        Modalities = ModalityWeights(1.0, 0.0, 0.0)
                    )

                let count = Flops.MultiTask(config, BatchShape(Batch = 2, AudioSteps = 3))
                // Multiply-adds over 2 · 3 = 6 frames: input 6·10·16 = 960; q, k, v, out 4·6·16·16 = 6,144;
                // QKᵀ and AV 2·2·3·3·16 = 576; feed-forward 2·6·16·20 = 3,840; emotion head 2·16·6 = 192.
                Expect.equal count.Forward (2L * (960L + 6144L + 576L + 3840L + 192L)) "forward = 23,424"
                Expect.equal count.TrainingStep (3L * 23424L) "training step = 3 × forward"
                Expect.equal count.OnData (2L * 960L) "the input projection is the only product on the data"
                Expect.equal count.TrainingStepWithoutDataGradients (3L * 23424L - 1920L) "no gradient for the features"
            }

            test "the one-layer model's products, at their shapes, and a training step's three per product" {
                let config =
                    ModelConfig(
                        AudioDim = 10,
                        DModel = 16,
                        Heads = 2,
                        FeedForward = 20,
                        AudioLayers = 1,
                        Emotions = 6,
                        Tasks = TaskWeights.EmotionOnly,
                        Modalities = ModalityWeights(1.0, 0.0, 0.0)
                    )

                let shape = BatchShape(Batch = 2, AudioSteps = 3)
                let products = Flops.MultiTaskProducts(config, shape)

                let shapes = [ for p in products -> p.Name, (p.Batch, p.M, p.K, p.N) ]

                // 2 items × 3 frames = 6 rows; 2 heads of 8; QKᵀ and AV one product per item and head.
                Expect.equal
                    shapes
                    [
                        "input projection", (1L, 6L, 10L, 16L)
                        "self-attention q", (1L, 6L, 16L, 16L)
                        "self-attention k", (1L, 6L, 16L, 16L)
                        "self-attention v", (1L, 6L, 16L, 16L)
                        "self-attention QKᵀ", (4L, 3L, 8L, 3L)
                        "self-attention AV", (4L, 3L, 3L, 8L)
                        "self-attention out", (1L, 6L, 16L, 16L)
                        "feed-forward in", (1L, 6L, 16L, 20L)
                        "feed-forward out", (1L, 6L, 20L, 16L)
                        "affine", (1L, 2L, 16L, 6L)
                    ]
                    "products in the order the model runs them"

                Expect.equal
                    [ for p in products -> p.OnData ]
                    [ true; false; false; false; false; false; false; false; false; false ]
                    "only the input projection is on the data"

                Expect.equal (products |> Seq.sumBy (fun p -> p.Flops)) (Flops.MultiTask(config, shape).Forward) "they sum to the count"
                let qk = products |> Seq.find (fun p -> p.Name = "self-attention QKᵀ")

                Expect.equal
                    [ for p in qk.TrainingStep -> p.Batch, p.M, p.K, p.N ]
                    [ 4L, 3L, 8L, 3L; 4L, 3L, 3L, 8L; 4L, 8L, 3L, 3L ]
                    "forward (M×K)(K×N); left gradient (M×N)(N×K); right gradient (K×M)(M×N)"

                Expect.isTrue (qk.TrainingStep |> Seq.forall (fun p -> p.Flops = qk.Flops)) "each as many FLOPs as the forward"
            }

            test "every Linear of the tiny transformer is counted, on the rows it sees (CTC head included)" {
                let shape =
                    BatchShape(Batch = 3, AudioSteps = 7, VideoFrames = 5, Words = 4, Characters = 6)

                // With a CTC share, as the demo's pre-training has: its head is a Linear over the encoder's frames.
                let c = tinyAllTasks.WithCtcWeight(0.3)
                let m = new MultiTaskModel(c)
                let b, ta, tv, tw, l = 3L, 7L, 5L, 4L, 7L // decoder: start symbol + 6 characters

                let keyOrValue (n: string) =
                    n.Contains "k_proj" || n.Contains "v_proj"

                let rows (n: string) =
                    if n.StartsWith "encoder.video." && (n.Contains "source_proj" || keyOrValue n) then
                        b * tv
                    elif n.StartsWith "encoder.text." && (n.Contains "source_proj" || keyOrValue n) then
                        b * tw
                    elif n.StartsWith "encoder." || n.StartsWith "ctc." then
                        b * ta
                    elif n.StartsWith "asr." && n.Contains "cross_attn" && keyOrValue n then
                        b * ta
                    elif n.StartsWith "asr." then
                        b * l
                    else
                        b // speaker and emotion heads

                let d = int64 c.DModel
                let products (queries: int64) (keys: int64) = 2L * (2L * b * queries * keys * d)

                let attentionProducts =
                    int64 c.AudioLayers * products ta ta
                    + int64 c.CrossModalLayers * (products ta tv + products ta tw)
                    + int64 c.DecoderLayers * (products l l + products l ta)

                Expect.equal (Flops.MultiTask(c, shape).Forward) (linearFlops m rows + attentionProducts) "forward"
            }

            test "late fusion: every GRU weight on the valid steps, the classifier on the batch" {
                let shape =
                    BatchShape(Batch = 3, AudioSteps = 8, VideoFrames = 5, Words = 4, Characters = 6)

                let m = new LateFusionModel(tinyLate)
                // Valid steps of SyntheticBatch's items (full, full, 3/4): audio 8+8+6, video 5+5+3, words 4+4+3.
                let rows (n: string) =
                    if n.StartsWith "audio." then 22L
                    elif n.StartsWith "video." then 13L
                    elif n.StartsWith "text." then 11L
                    else 3L

                let count = Flops.LateFusion(tinyLate, shape)
                Expect.equal count.Forward (linearFlops m rows) "forward"

                let firstLayerInput (n: string) =
                    if n.Contains "weight_ih_l0" then rows n else 0L

                Expect.equal count.OnData (linearFlops m firstLayerInput) "on the data: first layers' input weights"
            }

            test "the paper configuration: forward GFLOPs per batch of 8" {
                let transformer = Flops.MultiTask(ModelConfig.Paper, BatchShape())
                let late = Flops.LateFusion(LateFusionConfig.Paper, BatchShape())

                for p in Seq.append transformer.Parts late.Parts do
                    printfn "  %-24s %8.2f GFLOP" p.Name (float p.Forward / 1e9)

                printfn "transformer %.1f GFLOP, late fusion %.1f GFLOP" (float transformer.Forward / 1e9) (float late.Forward / 1e9)

                printfn
                    "training step, 3 x forward / without data gradients: transformer %.1f / %.1f, late fusion %.1f / %.1f GFLOP"
                    (float transformer.TrainingStep / 1e9)
                    (float transformer.TrainingStepWithoutDataGradients / 1e9)
                    (float late.TrainingStep / 1e9)
                    (float late.TrainingStepWithoutDataGradients / 1e9)

                Expect.isGreaterThan transformer.Forward 0L "positive"
            }
        ]
