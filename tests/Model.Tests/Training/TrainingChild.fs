/// A small training run used by the kill-and-resume test: `Model.Tests.dll --train-child DIR` trains a tiny model on
/// synthetic items, checkpointing in DIR, and writes DIR/result.json when it finishes.
module Research.Model.Tests.Training.TrainingChild

open System
open System.IO
open System.Security.Cryptography
open System.Text.Json
open TorchSharp
open Research.Model
open Research.Model.Training
open Research.Model.Tests
open Research.Model.Models
open Research.Model.Text

/// Items made from their index alone (same on every run): audio/video/text features, a transcript, a speaker.
type SyntheticSource(config: ModelConfig, count: int, offset: int, ?poison: int) =
    let lengthOf i = 4 + (i + offset) % 7

    let rows (rng: Random) n d =
        Array2D.init n d (fun _ _ -> float32 (rng.NextDouble() * 2.0 - 1.0))

    interface IBatchSource with
        member _.Count = count
        member _.Id i = $"item{i + offset}"
        member _.Lengths = [| for i in 0 .. count - 1 -> int64 (lengthOf i) |]

        member _.Batch(items, device) =
            let make (i: int) =
                let rng = Random(1000 + i + offset)
                let a = rows rng (lengthOf i) config.AudioDim

                if poison = Some i then
                    a[0, 0] <- nanf

                a, rows rng (3 + i % 4) config.VideoDim, rows rng (2 + i % 3) config.TextDim

            let xs = [| for i in items -> make i |]

            let seq f =
                Sequence.FromArrays([| for x in xs -> f x |], device)

            let input =
                EncoderInput(seq (fun (a, _, _) -> a), seq (fun (_, v, _) -> v), seq (fun (_, _, t) -> t))

            let texts =
                [|
                    for i in items -> CharVocabulary.English.Encode(if (i + offset) % 2 = 0 then "abc de" else "fgh")
                |]

            let struct (asrIn, asrOut) = Targets.AsrPairs(texts, device)

            let speakers =
                Tensors.longs [| for i in items -> int64 ((i + offset) % config.Speakers) |]

            // Six binary emotion labels per item (for emotion-only runs; ignored when the emotion weight is 0).
            let emotions =
                let labels =
                    [|
                        for i in items do
                            for e in 0..5 -> if ((i + offset) * 7 + e * 3) % 5 < 2 then 1.0f else 0.0f
                    |]

                torch.tensor(labels).reshape(int64 items.Count, 6L)

            struct (input, Targets(asrIn, asrOut, speakers, emotions))

/// An observer that prints nothing.
let silent =
    { new ITrainingObserver with
        member _.Started(_, _) = ()
        member _.Stepped(_, _, _) = ()
        member _.Evaluated(_, _) = ()
        member _.Message _ = ()
    }

/// Trains the tiny model in `dir` (resuming from its checkpoint) and returns the final state and a hash of the weights.
let train (dir: string) (steps: int64) (observer: ITrainingObserver) =
    Directory.CreateDirectory dir |> ignore
    // Dropout on, so the random-number state must be restored for a resumed run to match.
    let config = Fixtures.tiny.WithDropout 0.1
    torch.manual_seed 11L |> ignore
    use model = new MultiTaskModel(config)
    let criterion = MultiTaskCriterion(config.Tasks)
    let step = TrainStep(model, criterion, LearningRateSchedule(0.5, config.DModel, 10))
    let train = SyntheticSource(config, 37, 0)
    let heldOut = SyntheticSource(config, 9, 100)

    let evaluate () =
        model.eval ()
        use _ = torch.no_grad ()
        use _ = torch.NewDisposeScope()
        let struct (input, targets) = (heldOut :> IBatchSource).Batch([| 0..8 |], torch.CPU)
        let loss = criterion.Compute(model.forward (input, targets.AsrInput), targets)
        let value = float (loss.Total.item<float32>())
        readOnlyDict [ "loss", value; "neg_loss", -value ]

    let options =
        TrainerOptions(Steps = steps, BatchSize = 4, EvaluateEvery = 7, CheckpointEvery = 3, Seed = 5)

    let state =
        Trainer.Run(
            step,
            model,
            train,
            torch.CPU,
            options,
            Path.Combine(dir, "checkpoint.bin"),
            """{"run":"child"}""",
            Func<_>(evaluate),
            "neg_loss",
            Path.Combine(dir, "best.bin"),
            observer
        )

    let weights = Path.Combine(dir, "final.bin")
    model.save weights |> ignore
    state, Convert.ToHexString(SHA256.HashData(File.ReadAllBytes weights))

/// The child process's entry: train, then write result.json atomically.
let main (dir: string) =
    torch.set_num_threads 1
    let state, hash = train dir 150L silent

    let result =
        JsonSerializer.Serialize(
            {|
                step = state.Step
                bestStep = state.BestStep
                bestScore = state.BestScore
                last = state.LastEvaluation
                weights = hash
            |}
        )

    File.WriteAllText(Path.Combine(dir, "result.json.tmp"), result)
    File.Move(Path.Combine(dir, "result.json.tmp"), Path.Combine(dir, "result.json"), true)
    0

/// The parameters of a module, flattened in order (for comparing replicas).
let flatWeights (model: torch.nn.Module) =
    [|
        for p in model.parameters () do
            yield! p.detach().reshape(-1L).data<float32>().ToArray()
    |]

/// What a data-parallel child trains: "pretrain" (the tiny multi-task model, ASR + speaker), "finetune" (the tiny
/// transformer on emotions only, with per-emotion positive weights, as fine-tuning) or "late-fusion" (the tiny BiGRU
/// late-fusion baseline on emotions).
let tasks = [ "pretrain"; "finetune"; "late-fusion" ]

/// The model of a task (ITaskModel and Module), its criterion and its model dimension (for the schedule).
let private modelOf (task: string) (dropout: float) : torch.nn.Module * ITaskModel * MultiTaskCriterion * int =
    match task with
    | "pretrain" ->
        let config = Fixtures.tiny.WithDropout dropout
        let m = new MultiTaskModel(config)
        m, m, MultiTaskCriterion(config.Tasks), config.DModel
    | "finetune" ->
        let config =
            (Fixtures.tinyWith TaskWeights.EmotionOnly ModalityWeights.Paper).WithDropout dropout

        let m = new MultiTaskModel(config)
        let weights = torch.tensor [| 1.5f; 0.5f; 2.0f; 1.0f; 3.0f; 0.8f |]
        m, m, MultiTaskCriterion(TaskWeights.EmotionOnly, 0.0, weights), config.DModel
    | "late-fusion" ->
        let config =
            LateFusionConfig(AudioDim = 10, VideoDim = 12, TextDim = 6, Hidden = 8, Layers = 2, FusionDim = 16, Dropout = dropout)

        let m = new LateFusionModel(config)
        m, m, MultiTaskCriterion(TaskWeights.EmotionOnly, 0.0, null), config.FusionDim
    | other -> failwith $"unknown task {other}"

/// Parameter names and element counts of a task's model, in order.
let layout (task: string) =
    let m, _, _, _ = modelOf task 0.0
    use _ = m

    [
        for struct (name, p) in m.named_parameters () -> name, int p.NumberOfElements
    ]

/// Trains a task's tiny model data-parallel over `comm` (global batch 8, `steps` steps) with checkpoints in `dir`;
/// rank 0 returns the final state and the flat weights. Dropout as given (0: the run is deterministic however it is
/// split).
let trainParallel (dir: string) (steps: int64) (dropout: float) (task: string) (comm: Research.Model.Runtime.ICommunicator) =
    Directory.CreateDirectory dir |> ignore
    torch.manual_seed (if comm.Rank = 0 then 11L else 12L) |> ignore // other ranks start elsewhere: the broadcast must fix it
    let module', model, criterion, dModel = modelOf task dropout
    use _ = module'
    let step = TrainStep(model, criterion, LearningRateSchedule(0.5, dModel, 10))

    let source (count, offset) =
        SyntheticSource(Fixtures.tiny, count, offset)

    let train = source (37, 0)
    let heldOut = source (9, 100)

    let evaluate () =
        module'.eval ()
        use _ = torch.no_grad ()
        use _ = torch.NewDisposeScope()
        let struct (input, targets) = (heldOut :> IBatchSource).Batch([| 0..8 |], torch.CPU)
        let loss = criterion.Compute(model.Forward(input, targets.AsrInput), targets)
        let value = float (loss.Total.item<float32>())
        readOnlyDict [ "loss", value; "neg_loss", -value ]

    let options =
        TrainerOptions(Steps = steps, BatchSize = 8, EvaluateEvery = 5, CheckpointEvery = 2, Seed = 5)

    let state =
        Trainer.Run(
            step,
            module',
            train,
            torch.CPU,
            options,
            Path.Combine(dir, "checkpoint.bin"),
            $"{{\"run\":\"parallel-{task}\"}}",
            Func<_>(evaluate),
            "neg_loss",
            Path.Combine(dir, "best.bin"),
            silent,
            comm
        )

    let sizes =
        [|
            for struct (name, p) in module'.named_parameters () -> $"{name}:{p.NumberOfElements}"
        |]

    state, flatWeights module', sizes

/// `Model.Tests.dll --parallel-child DIR STEPS DROPOUT TASK` under mpirun: each rank writes DIR/rank-R.pid, trains,
/// and rank 0 writes DIR/result.json (state and weights) atomically. SLOW_MS pauses each step's observer (kill test).
let parallelMain (dir: string) (steps: int64) (dropout: float) (task: string) =
    let comm = Research.Model.Runtime.Communicator.FromEnvironment()

    Research.Model.Runtime.Communicator.Run(
        comm,
        fun () ->
            Directory.CreateDirectory dir |> ignore
            File.WriteAllText(Path.Combine(dir, $"rank-{comm.Rank}.pid"), string Environment.ProcessId)
            torch.set_num_threads (Research.Model.Runtime.Communicator.DefaultThreads())
            let state, weights, sizes = trainParallel dir steps dropout task comm

            if comm.Rank = 0 then
                let result =
                    JsonSerializer.Serialize(
                        {|
                            step = state.Step
                            bestStep = state.BestStep
                            last = state.LastEvaluation
                            weights = weights
                            parameters = sizes
                        |}
                    )

                File.WriteAllText(Path.Combine(dir, "result.json.tmp"), result)
                File.Move(Path.Combine(dir, "result.json.tmp"), Path.Combine(dir, "result.json"), true)

            0
    )
