/// Experiment configurations as records. Each of the paper's settings is a named value; experiments are small
/// `{ preset with ... }` diffs; a run's resolved config is written to its folder and read back as the same record.
/// Fields that the paper does not give say so, with our choice and why.
module Research.Experiments.Config

open System
open System.IO
open System.Text.Json
open System.Text.Json.Nodes
open Research.Model
open Research.Model.Models
open Research.Model.Modules
open Research.Experiments.Errors

/// Transformer sizes (paper §4.1 for the paper preset) and the encoder's options beyond the paper (off in every preset).
type ModelSize =
    {
        DModel: int
        Heads: int
        FeedForward: int
        AudioLayers: int
        CrossModalLayers: int
        DecoderLayers: int
        Dropout: float
        LabelSmoothing: float
        /// Any-subset encoder: an embedding for every non-empty subset of audio, video, text, audio included
        /// (ModelConfig.AnySubset says how and why). Off: the paper's encoder, which needs audio.
        AnySubset: bool
        /// Per-batch probability of dropping each present modality in training, never all (needs AnySubset).
        ModalityDropout: float
        /// Fusion weights learned as softmax over three logits initialised at the configured weights
        /// (ModelConfig.LearnedModalityWeights); logged per step as modality_weight_audio/video/text.
        LearnedModalityWeights: bool
    }

/// Input dimensions: audio 40 LFBE × 5 stacked, video per-frame features, text word vectors.
type Inputs =
    {
        AudioDim: int
        VideoDim: int
        TextDim: int
    }

/// Stream weights of the fused encoder output.
type Modalities =
    {
        Audio: float
        Video: float
        Text: float
    }

/// Training budget and optimiser schedule (Speech-Transformer: lr = k · d^-0.5 · min(n^-0.5, n · warmup^-1.5)).
type Budget =
    {
        Steps: int
        BatchSize: int
        Warmup: int
        LrFactor: float
        ClipNorm: float
        EvaluateEvery: int
        CheckpointEvery: int
    }

/// Multi-task pre-training (paper §3, §4.1).
type Pretraining =
    {
        /// The run's folder name under runs/.
        Name: string
        /// Kaldi-style data dir and the feature store made from it (see Prepare).
        DataDir: string
        Store: string
        /// Utterances per speaker held out for CER and speaker accuracy.
        HeldOutPerSpeaker: int
        Model: ModelSize
        Inputs: Inputs
        Modalities: Modalities
        /// Loss weights (paper: ASR 0.8, speaker 0.2).
        AsrWeight: float
        SpeakerWeight: float
        /// Share of the ASR term given to CTC on the encoder output (ModelConfig.CtcWeight; paper: 0).
        CtcWeight: float
        Budget: Budget
        Seed: int
        Device: string
        Threads: int
    }

/// Emotion fine-tuning, or the same transformer from scratch when Pretrained is "" (paper §4.1).
type FineTuning =
    {
        Name: string
        /// The folder of a finished pre-training run whose encoder initialises the model ("" = from scratch).
        Pretrained: string
        /// Root of the emotion feature stores (train/, valid/, test/).
        Stores: string
        Model: ModelSize
        Inputs: Inputs
        Modalities: Modalities
        /// Weight positives by negatives/positives per emotion ("weighted training", §4.1).
        PositiveWeights: bool
        Budget: Budget
        Seed: int
        Device: string
        Threads: int
    }

/// The paper's model: d 512, 4 heads, feed-forward 200, 4 audio and 4 cross-modal layers, 2 decoder layers.
/// Dropout and label smoothing are not given; 0.1 each, the Transformer's and Speech-Transformer's values.
let paperModel =
    {
        DModel = 512
        Heads = 4
        FeedForward = 200
        AudioLayers = 4
        CrossModalLayers = 4
        DecoderLayers = 2
        Dropout = 0.1
        LabelSmoothing = 0.1
        AnySubset = false
        ModalityDropout = 0.0
        LearnedModalityWeights = false
    }

/// The demo's model: the paper's shape at a size two CPU cores train in minutes.
let demoModel =
    { paperModel with
        DModel = 128
        AudioLayers = 2
        CrossModalLayers = 2
        DecoderLayers = 1
    }

let paperInputs =
    {
        AudioDim = 200
        VideoDim = 4096
        TextDim = 300
    }

/// The demo corpus's visual feature is 32×32 grey levels (README).
let demoInputs = { paperInputs with VideoDim = 1024 }

/// Pre-training stream weights (paper §3).
let paperModalities = { Audio = 0.4; Video = 0.4; Text = 0.2 }

/// Emotion fine-tuning and the from-scratch baseline use equal weights (paper §4.1).
let equalModalities =
    {
        Audio = 1.0 / 3.0
        Video = 1.0 / 3.0
        Text = 1.0 / 3.0
    }

/// Paper pre-training. The paper gives the schedule's source ([24]: k = 10, warm-up 25,000) but no batch size or
/// step count; 32 utterances and 300,000 steps (~10 passes over 1M utterances) are our choice.
let paperPretraining =
    {
        Name = "pretrain-paper"
        DataDir = Path.Combine("data", "voxceleb2", "data")
        Store = Path.Combine("data", "voxceleb2", "features")
        HeldOutPerSpeaker = 1
        Model = paperModel
        Inputs = paperInputs
        Modalities = paperModalities
        AsrWeight = 0.8
        SpeakerWeight = 0.2
        CtcWeight = 0.0
        Budget =
            {
                Steps = 300000
                BatchSize = 32
                Warmup = 25000
                LrFactor = 10.0
                ClipNorm = 5.0
                EvaluateEvery = 5000
                CheckpointEvery = 1000
            }
        Seed = 1
        Device = "cpu"
        Threads = Environment.ProcessorCount
    }

/// Demo pre-training on the generated corpus (data/demo, see Prepare).
let demoPretraining =
    { paperPretraining with
        Name = "pretrain-demo"
        // CTC beside the attention decoder: with attention alone the decoder had not learned to attend to the audio
        // within 2,000 steps (held-out CER stayed above 1; README). 4,000 steps: CER still falls steadily at 2,000.
        CtcWeight = 0.3
        DataDir = Path.Combine("data", "demo", "pretrain", "data")
        Store = Path.Combine("data", "demo", "features", "pretrain")
        Model = demoModel
        Inputs = demoInputs
        Budget =
            {
                Steps = 4000
                BatchSize = 16
                Warmup = 300
                LrFactor = 1.0
                ClipNorm = 5.0
                EvaluateEvery = 500
                CheckpointEvery = 100
            }
    }

/// Paper fine-tuning from the pre-trained encoder (budget ours: the paper gives none).
let paperFineTuning =
    {
        Name = "finetune-paper"
        Pretrained = Path.Combine("runs", "pretrain-paper")
        Stores = Path.Combine("data", "mosei", "features")
        Model = paperModel
        Inputs = paperInputs
        Modalities = equalModalities
        PositiveWeights = true
        Budget =
            {
                Steps = 20000
                BatchSize = 32
                Warmup = 2000
                LrFactor = 1.0
                ClipNorm = 5.0
                EvaluateEvery = 1000
                CheckpointEvery = 500
            }
        Seed = 1
        Device = "cpu"
        Threads = Environment.ProcessorCount
    }

/// Demo fine-tuning on the generated emotion corpus.
let demoFineTuning =
    { paperFineTuning with
        Name = "finetune-demo"
        Pretrained = Path.Combine("runs", "pretrain-demo")
        Stores = Path.Combine("data", "demo", "features", "emotion")
        Model = demoModel
        Inputs = demoInputs
        Budget =
            {
                Steps = 600
                BatchSize = 16
                Warmup = 100
                LrFactor = 0.5
                ClipNorm = 5.0
                EvaluateEvery = 50
                CheckpointEvery = 50
            }
    }

/// The same transformer trained on emotions from scratch (the paper's "TF" baseline).
let scratch (c: FineTuning) =
    { c with
        Name = c.Name.Replace("finetune", "scratch")
        Pretrained = ""
    }

/// The late-fusion baseline (paper §4.1): per modality a 2-layer bidirectional GRU of 200 units, the last step of
/// each concatenated, a linear layer of 100, then 6 outputs; binary cross-entropy with positive weights.
type LateFusion =
    {
        Name: string
        Stores: string
        Inputs: Inputs
        Hidden: int
        Layers: int
        FusionDim: int
        Dropout: float
        PositiveWeights: bool
        Budget: Budget
        Seed: int
        Device: string
        Threads: int
    }

let paperLateFusion =
    {
        Name = "latefusion-paper"
        Stores = paperFineTuning.Stores
        Inputs = paperInputs
        Hidden = 200
        Layers = 2
        FusionDim = 100
        Dropout = 0.1
        PositiveWeights = true
        Budget = paperFineTuning.Budget
        Seed = 1
        Device = "cpu"
        Threads = Environment.ProcessorCount
    }

/// The demo's late fusion: the paper's sizes, the demo's inputs and budget (a constant learning rate after warm-up
/// would do as well; the Speech-Transformer schedule keeps one optimiser path for all models).
let demoLateFusion =
    { paperLateFusion with
        Name = "latefusion-demo"
        Stores = demoFineTuning.Stores
        Inputs = demoInputs
        Budget = demoFineTuning.Budget
    }

/// The model configuration of a record's sizes, inputs, stream weights and tasks.
let modelConfig (size: ModelSize) (inputs: Inputs) (m: Modalities) (tasks: TaskWeights) (speakers: int) =
    ModelConfig(
        AudioDim = inputs.AudioDim,
        VideoDim = inputs.VideoDim,
        TextDim = inputs.TextDim,
        DModel = size.DModel,
        Heads = size.Heads,
        FeedForward = size.FeedForward,
        AudioLayers = size.AudioLayers,
        CrossModalLayers = size.CrossModalLayers,
        DecoderLayers = size.DecoderLayers,
        Dropout = size.Dropout,
        LabelSmoothing = size.LabelSmoothing,
        Speakers = max 1 speakers,
        Modalities = ModalityWeights(m.Audio, m.Video, m.Text),
        Tasks = tasks,
        AnySubset = size.AnySubset,
        ModalityDropout = size.ModalityDropout,
        LearnedModalityWeights = size.LearnedModalityWeights
    )

/// What a learned-weights run also depends on beyond its config: the learning-rate multiple of the modality logits
/// (ModelConfig.ModalityWeightLearningRateScale, a model constant rather than a config field, so that adding it left
/// every existing run's recorded config unchanged). Recorded among the run's inputs ("fingerprints") only when the
/// model learns its weights: such a run made at another multiple (or before it existed) is not reused, and no other
/// run is affected.
let learnedWeightsInputs (size: ModelSize) =
    [
        if size.LearnedModalityWeights then
            "modality_logits_lr_scale",
            ModelConfig.Paper.ModalityWeightLearningRateScale.ToString(Globalization.CultureInfo.InvariantCulture)
    ]

/// The trainer's loop settings for a budget and seed (steps, batch, evaluation and checkpoint intervals).
let trainerOptions (budget: Budget) (seed: int) =
    Research.Model.Training.TrainerOptions(
        Steps = int64 budget.Steps,
        BatchSize = budget.BatchSize,
        EvaluateEvery = budget.EvaluateEvery,
        CheckpointEvery = budget.CheckpointEvery,
        Seed = seed
    )

let private json = JsonSerializerOptions(WriteIndented = true)

/// A record as indented JSON (what run folders store and checkpoints compare).
let toJson (value: 'T) = JsonSerializer.Serialize(value, json)

/// A record from JSON; a missing or mistyped field is an error naming the source.
let ofJson<'T> (source: string) (text: string) : 'T =
    try
        JsonSerializer.Deserialize<'T>(text, json)
    with :? JsonException as e ->
        invalidSetting $"{source}: not a valid {typeof<'T>.Name} configuration: {e.Message}"

/// Applies `path=value` overrides (e.g. `Budget.Steps=100`, `Model.DModel=64`; names case-insensitive; the value
/// is read as JSON when it parses, else as a string). An unknown path names the keys that exist.
let withOverrides<'T> (value: 'T) (overrides: string list) : 'T =
    let root = JsonSerializer.SerializeToNode(value, json).AsObject()

    for o in overrides do
        let eq = o.IndexOf '='

        if eq <= 0 then
            invalidSetting $"--set expects PATH=VALUE, got '{o}'"

        let path = o.Substring(0, eq).Split('.')
        let text = o.Substring(eq + 1)
        let mutable node = root

        for i in 0 .. path.Length - 1 do
            let key =
                node
                |> Seq.map (fun kv -> kv.Key)
                |> Seq.tryFind (fun k -> String.Equals(k, path[i], StringComparison.OrdinalIgnoreCase))

            match key with
            | None ->
                let keys = node |> Seq.map (fun kv -> kv.Key) |> String.concat ", "
                invalidSetting $"--set {o}: no '{path[i]}' here (keys: {keys})"
            | Some k when i = path.Length - 1 ->
                let parsed =
                    try
                        JsonNode.Parse text
                    with :? JsonException ->
                        JsonValue.Create text :> JsonNode

                node[k] <- parsed
            | Some k ->
                match node[k] with
                | :? JsonObject as child -> node <- child
                | _ -> invalidSetting $"--set {o}: '{k}' is a value, not a group"

    ofJson<'T> "--set" (root.ToJsonString())

/// The config a command runs: the JSON file `config` when given, else the preset named `preset` (the first of
/// `presets` when None), then the `sets` overrides (see withOverrides).
let resolve<'T> (presets: (string * 'T) list) (preset: string option) (config: string option) (sets: string list) : 'T =
    let start =
        match config with
        | Some path when File.Exists path -> ofJson<'T> path (File.ReadAllText path)
        | Some path -> invalidSetting $"--config: no such file {path}"
        | None ->
            let name = preset |> Option.defaultValue (fst presets.Head)

            match presets |> List.tryFind (fst >> (=) name) with
            | Some(_, p) -> p
            | None ->
                let names = presets |> List.map fst |> String.concat ", "
                invalidSetting $"--preset: unknown '{name}' (known: {names})"

    withOverrides start sets
