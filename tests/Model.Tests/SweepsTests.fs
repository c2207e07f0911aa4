module Research.Model.Tests.SweepsTests

open System.IO
open Expecto
open Research.Experiments
open Research.Experiments.Config
open Research.Experiments.Protocol
open Research.Experiments.Sweeps

let private runs = Path.Combine("runs", "reproduce-demo")

let private baseConfigs =
    {
        Runs = runs
        Pretraining =
            { demoPretraining with
                Name = "pretrain"
            }
        FineTuning = demoFineTuning
    }

let private fineTuning (p: PlannedPoint) =
    match p.Experiment.Model with
    | Transformer c -> c
    | LateFusionModel _ -> failwith "a sweep point trains the transformer"

/// The pre-training config with the fields a sweep point may change put back to the base's.
let private restored (p: Pretraining) =
    let b = baseConfigs.Pretraining

    { p with
        Name = b.Name
        AsrWeight = b.AsrWeight
        SpeakerWeight = b.SpeakerWeight
        Modalities = b.Modalities
        Model = b.Model
    }

[<Tests>]
let tests =
    testList
        "Sweeps"
        [
            test "task weights: five pre-training runs differing only in ASR/speaker weight; 0.8/0.2 is the main job's" {
                let points = plan baseConfigs taskWeights
                let pre = points |> List.map (fun p -> p.Pretraining.Value)

                Expect.equal
                    [ for p in pre -> p.AsrWeight, p.SpeakerWeight ]
                    [ 1.0, 0.0; 0.8, 0.2; 0.5, 0.5; 0.2, 0.8; 0.0, 1.0 ]
                    "the weights"

                Expect.equal
                    [ for p in pre -> p.Name ]
                    [
                        "pretrain-tw-asr100-spk0"
                        "pretrain"
                        "pretrain-tw-asr50-spk50"
                        "pretrain-tw-asr20-spk80"
                        "pretrain-tw-asr0-spk100"
                    ]
                    "run names (the paper's point is the main job's run, reused)"

                Expect.equal
                    [ for p in points -> p.Experiment.Key ]
                    [
                        "tw-asr100-spk0"
                        "tf-pretrained"
                        "tw-asr50-spk50"
                        "tw-asr20-spk80"
                        "tw-asr0-spk100"
                    ]
                    "experiment keys"

                for p in pre do
                    Expect.equal (restored p) baseConfigs.Pretraining $"{p.Name}: nothing else changes"

                for p in points do
                    Expect.equal
                        (fineTuning p)
                        { demoFineTuning with
                            Pretrained = Path.Combine(runs, p.Pretraining.Value.Name)
                        }
                        $"{p.Experiment.Key}: the base fine-tuning from its own pre-training"
            }

            test "modality weights: paper (the main job's), equal, audio-heavy, learned from the paper's" {
                let points = plan baseConfigs modalityWeights
                let pre = points |> List.map (fun p -> p.Pretraining.Value)

                Expect.equal
                    [ for p in pre -> p.Name ]
                    [
                        "pretrain"
                        "pretrain-mw-equal"
                        "pretrain-mw-audio-heavy"
                        "pretrain-mw-learned"
                    ]
                    "run names"

                Expect.equal
                    [ for p in pre -> p.Modalities.Audio, p.Modalities.Video, p.Modalities.Text ]
                    [ 0.4, 0.4, 0.2; 1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0; 0.6, 0.2, 0.2; 0.4, 0.4, 0.2 ]
                    "weights"

                Expect.equal [ for p in pre -> p.Model.LearnedModalityWeights ] [ false; false; false; true ] "learned"

                for p in pre do
                    Expect.equal (restored p) baseConfigs.Pretraining $"{p.Name}: nothing else changes"

                for p in points do
                    Expect.equal (fineTuning p).Modalities equalModalities "fine-tuning keeps equal weights"
                    Expect.isFalse (fineTuning p).Model.LearnedModalityWeights "fine-tuning keeps fixed weights"
            }

            test "subsets: TF from scratch and pre-trained TF are the main job's; the any-subset model is new" {
                let points = plan baseConfigs subsets
                Expect.equal [ for p in points -> p.Experiment.Key ] [ "tf"; "tf-pretrained"; "any-subset" ] "keys"
                Expect.isNone points[0].Pretraining "from scratch"
                Expect.equal (fineTuning points[0]) (scratch demoFineTuning) "the main job's TF"
                Expect.equal points[1].Pretraining (Some baseConfigs.Pretraining) "the main job's pre-training"

                Expect.equal
                    (fineTuning points[1])
                    { demoFineTuning with
                        Pretrained = Path.Combine(runs, "pretrain")
                    }
                    "the main job's pre-trained TF"

                let anyModel =
                    { demoModel with
                        AnySubset = true
                        ModalityDropout = 0.3
                    }

                Expect.equal
                    points[2].Pretraining
                    (Some
                        { baseConfigs.Pretraining with
                            Name = "pretrain-any-subset"
                            Model = anyModel
                        })
                    "any-subset pre-training"

                Expect.equal
                    (fineTuning points[2])
                    { demoFineTuning with
                        Pretrained = Path.Combine(runs, "pretrain-any-subset")
                        Model = anyModel
                    }
                    "any-subset fine-tuning from it"
            }

            test "run configs: each pre-training once, then one emotion run per point and seed, named as the protocol does" {
                let configs = runConfigs [ 1; 2 ] (plan baseConfigs subsets)

                let names =
                    configs
                    |> List.map (function
                        | PretrainRun p -> $"pretrain:{p.Name}"
                        | EmotionRun(Transformer c) -> $"{c.Name}/{c.Seed}"
                        | EmotionRun(LateFusionModel c) -> $"{c.Name}/{c.Seed}")

                Expect.equal
                    names
                    [
                        "pretrain:pretrain"
                        "pretrain:pretrain-any-subset"
                        "tf-seed1/1"
                        "tf-seed2/2"
                        "tf-pretrained-seed1/1"
                        "tf-pretrained-seed2/2"
                        "any-subset-seed1/1"
                        "any-subset-seed2/2"
                    ]
                    "runs"

                Expect.equal (runConfigs [ 1; 2; 3 ] (plan baseConfigs taskWeights)).Length (5 + 5 * 3) "task weights"
            }

            test "sweeps by name; an unknown name is an error listing the known ones" {
                Expect.equal (byName "subsets") subsets "subsets"

                let e = Expect.throwsC (fun () -> byName "tasks" |> ignore) id

                Expect.stringContains e.Message "task-weights, modality-weights, subsets" "known names"
            }
        ]
