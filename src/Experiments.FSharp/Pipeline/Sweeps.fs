/// Declarative sweeps beyond the paper (issue 12): experiments as values. A sweep is a list of points; `plan` maps a
/// sweep and the main job's base configs to the exact runs it implies (pre-training runs and emotion experiments),
/// and `runConfigs` to every run config per seed. A point whose configs equal the main job's maps to the main job's
/// own run names, so its finished runs are reused. The paper's choices were not tuned (§3: task weights 0.8/0.2
/// "not tuned"; modality weights 0.4/0.4/0.2 "heuristically chosen"; §5.3 and §6: no embedding without audio).
module Research.Experiments.Sweeps

open System.IO
open Research.Experiments.Config
open Research.Experiments.Protocol

/// One point of the pre-training task-weight sweep: loss = Asr · ASR + Speaker · speaker.
type TaskWeightPoint = { Asr: float; Speaker: float }

/// One point of the pre-training modality-weight sweep: the fusion weights, fixed or learned from them
/// (ModelConfig.LearnedModalityWeights). Fine-tuning keeps its equal weights, as in the paper (§4.1).
type ModalityPoint =
    {
        Key: string
        Label: string
        Weights: Modalities
        Learned: bool
    }

/// A sweep: which setting varies, over which values.
type Sweep =
    /// Pre-training task weights; each point pre-trains its own model and fine-tunes the emotion TF from it.
    | TaskWeights of TaskWeightPoint list
    /// Pre-training fusion weights; each point pre-trains its own model and fine-tunes the emotion TF from it.
    | ModalityWeights of ModalityPoint list
    /// The subset table's models: TF from scratch and pre-trained TF (the main job's), and the any-subset model
    /// (pre-trained and fine-tuned with ModelConfig.AnySubset and this modality-dropout probability).
    | Subsets of modalityDropout: float

/// ASR/speaker 1/0, 0.8/0.2 (the paper's), 0.5/0.5, 0.2/0.8, 0/1.
let taskWeights =
    TaskWeights
        [
            for asr, speaker in [ 1.0, 0.0; 0.8, 0.2; 0.5, 0.5; 0.2, 0.8; 0.0, 1.0 ] -> { Asr = asr; Speaker = speaker }
        ]

/// The paper's 0.4/0.4/0.2, equal thirds, audio-heavy 0.6/0.2/0.2 (audio as much as the other two together: the
/// stream every task reads), and weights learned from the paper's starting point.
let modalityWeights =
    ModalityWeights
        [
            {
                Key = "paper"
                Label = "0.4/0.4/0.2 (paper)"
                Weights = paperModalities
                Learned = false
            }
            {
                Key = "equal"
                Label = "equal"
                Weights = equalModalities
                Learned = false
            }
            {
                Key = "audio-heavy"
                Label = "audio-heavy 0.6/0.2/0.2"
                Weights = { Audio = 0.6; Video = 0.2; Text = 0.2 }
                Learned = false
            }
            {
                Key = "learned"
                Label = "learned (from 0.4/0.4/0.2)"
                Weights = paperModalities
                Learned = true
            }
        ]

/// The subset table's models; modality dropout 0.3: each stream is missing from about 28 % of the batches
/// (kept with 0.7 / (1 − 0.3³) ≈ 0.72), while A+V+T, the paper's input, stays the most frequent subset (≈ 35 %).
let subsets = Subsets 0.3

/// The sweeps by their command-line name.
let named =
    [
        "task-weights", taskWeights
        "modality-weights", modalityWeights
        "subsets", subsets
    ]

/// A sweep by name; an unknown name is an error listing the known ones.
let byName (name: string) =
    match named |> List.tryFind (fst >> (=) name) with
    | Some(_, s) -> s
    | None ->
        let known = named |> List.map fst |> String.concat ", "
        Errors.invalidSetting $"--sweep: unknown '{name}' (known: {known})"

/// The main job's configs a sweep varies, and where its runs live.
type Base =
    {
        /// The runs folder (the main job's, so its finished runs are reused).
        Runs: string
        /// The main job's pre-training (its Name is its run folder under Runs).
        Pretraining: Pretraining
        /// The main job's emotion fine-tuning (Pretrained is set per point).
        FineTuning: FineTuning
    }

/// One point of a planned sweep: its label (tables), the pre-training run it needs (None: none) and its emotion
/// experiment (the protocol trains it from every seed).
type PlannedPoint =
    {
        Label: string
        Pretraining: Pretraining option
        Experiment: Experiment
    }

let private percent (x: float) = int (round (100.0 * x))

/// The pre-trained TF of a pre-training config: the main job's names when the config is the main job's.
let private pretrained (b: Base) (key: string) (label: string) (p: Pretraining) =
    let p, experimentKey =
        if p = b.Pretraining then
            p, TableFormat.pretrainedKey
        else
            { p with Name = $"pretrain-{key}" }, key

    {
        Label = label
        Pretraining = Some p
        Experiment =
            {
                Key = experimentKey
                Label = label
                Model =
                    Transformer
                        { b.FineTuning with
                            Pretrained = Path.Combine(b.Runs, p.Name)
                        }
            }
    }

/// The runs a sweep implies over the base configs, in the sweep's order.
let plan (b: Base) (sweep: Sweep) : PlannedPoint list =
    match sweep with
    | TaskWeights points ->
        [
            for p in points ->
                let key = $"tw-asr{percent p.Asr}-spk{percent p.Speaker}"

                pretrained
                    b
                    key
                    $"ASR {p.Asr:G3} / speaker {p.Speaker:G3}"
                    { b.Pretraining with
                        AsrWeight = p.Asr
                        SpeakerWeight = p.Speaker
                    }
        ]
    | ModalityWeights points ->
        [
            for p in points ->
                pretrained
                    b
                    $"mw-{p.Key}"
                    p.Label
                    { b.Pretraining with
                        Modalities = p.Weights
                        Model =
                            { b.Pretraining.Model with
                                LearnedModalityWeights = p.Learned
                            }
                    }
        ]
    | Subsets dropout ->
        let anySubset (m: ModelSize) =
            { m with
                AnySubset = true
                ModalityDropout = dropout
            }

        let main = pretrained b "" "" b.Pretraining

        let any =
            pretrained
                b
                "any-subset"
                "Any-subset model (pre-trained)"
                { b.Pretraining with
                    Model = anySubset b.Pretraining.Model
                }

        [
            {
                Label = "TF"
                Pretraining = None
                Experiment =
                    {
                        Key = TableFormat.scratchKey
                        Label = "TF"
                        Model = Transformer(scratch b.FineTuning)
                    }
            }
            { main with
                Label = "Embeddings from the Multi-task model"
                Experiment =
                    { main.Experiment with
                        Label = "Embeddings from the Multi-task model"
                    }
            }
            { any with
                Experiment =
                    { any.Experiment with
                        Model =
                            match any.Experiment.Model with
                            | Transformer c -> Transformer { c with Model = anySubset c.Model }
                            | m -> m
                    }
            }
        ]

/// One run a sweep needs.
type RunConfig =
    | PretrainRun of Pretraining
    | EmotionRun of EmotionModel

/// Every run config of a planned sweep for the given seeds: each distinct pre-training run once (with its own
/// seed), then each point's emotion runs, one per seed, named as the protocol names them (Protocol.seedRun).
let runConfigs (seeds: int list) (points: PlannedPoint list) : RunConfig list =
    [
        yield! points |> List.choose _.Pretraining |> List.distinct |> List.map PretrainRun
        for p in points do
            for seed in seeds -> EmotionRun(seedRun p.Experiment seed)
    ]
