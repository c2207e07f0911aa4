module Research.Model.Tests.ConfigTests

open System.IO
open Expecto
open Research.Experiments
open Research.Experiments.Config

[<Tests>]
let tests =
    testList
        "Config"
        [
            test "overrides change exactly the named fields, case-insensitively, with typed values" {
                let c =
                    withOverrides demoPretraining [ "budget.steps=123"; "Model.DModel=64"; "Name=x"; "Device=cpu" ]

                Expect.equal
                    c
                    { demoPretraining with
                        Name = "x"
                        Budget =
                            { demoPretraining.Budget with
                                Steps = 123
                            }
                        Model =
                            { demoPretraining.Model with
                                DModel = 64
                            }
                    }
                    "only those fields"

                let scratch = withOverrides demoFineTuning [ "Pretrained=" ]
                Expect.equal scratch.Pretrained "" "empty string"
            }

            test "an unknown path or a malformed override is a usage error naming what exists" {
                Expect.throwsC (fun () -> withOverrides demoPretraining [ "Budget.Stepz=1" ] |> ignore) (fun e ->
                    Expect.stringContains (string e) "Steps" "lists the keys")

                Expect.throwsC (fun () -> withOverrides demoPretraining [ "Budget" ] |> ignore) (fun e ->
                    Expect.stringContains (string e) "PATH=VALUE" "says the form")

                Expect.throwsC (fun () -> withOverrides demoPretraining [ "Budget.Steps=many" ] |> ignore) (fun e ->
                    Expect.stringContains (string e) "not a valid Pretraining" "a type error names the record")
            }

            test "a config written as JSON reads back as the same record, and presets resolve by name" {
                for c in [ demoPretraining; paperPretraining ] do
                    Expect.equal (ofJson<Pretraining> "test" (toJson c)) c "pre-training round trip"

                Expect.equal (ofJson<FineTuning> "test" (toJson demoFineTuning)) demoFineTuning "fine-tuning round trip"
                Expect.equal (ofJson<LateFusion> "test" (toJson demoLateFusion)) demoLateFusion "late fusion round trip"
                let path = Path.GetTempFileName()

                try
                    File.WriteAllText(path, toJson { demoPretraining with Seed = 7 })

                    let fromFile = resolve Pretrain.presets (Some "paper") (Some path) [ "Seed=8" ]
                    Expect.equal fromFile.Seed 8 "file then overrides"
                    Expect.equal fromFile.Budget demoPretraining.Budget "the file wins over the preset"
                    Expect.equal (resolve Pretrain.presets (Some "paper") None []) paperPretraining "named preset"
                    Expect.equal (resolve Pretrain.presets None None []) demoPretraining "the first preset by default"

                    Expect.throwsC (fun () -> resolve Pretrain.presets (Some "huge") None [] |> ignore) (fun e ->
                        Expect.isTrue (e :? Errors.InvalidSetting) "an invalid setting"
                        Expect.stringContains (string e) "demo, paper" "names the presets")

                    Expect.throwsC (fun () -> resolve Pretrain.presets None (Some(path + ".missing")) [] |> ignore) (fun e ->
                        Expect.isTrue (e :? Errors.InvalidSetting) "an invalid setting"
                        Expect.stringContains (string e) "no such file" "says what is wrong")
                finally
                    File.Delete path
            }

            test "the paper presets carry the paper's numbers" {
                let m =
                    modelConfig
                        paperModel
                        paperInputs
                        paperModalities
                        (Research.Model.Models.TaskWeights(paperPretraining.AsrWeight, paperPretraining.SpeakerWeight, 0.0))
                        5994

                Expect.equal
                    (m.DModel, m.Heads, m.FeedForward, m.AudioLayers, m.CrossModalLayers, m.DecoderLayers)
                    (512, 4, 200, 4, 4, 2)
                    "sizes"

                Expect.equal (m.AudioDim, m.VideoDim, m.TextDim) (200, 4096, 300) "inputs"
                Expect.equal (m.Modalities.Audio, m.Modalities.Video, m.Modalities.Text) (0.4, 0.4, 0.2) "stream weights"
                Expect.equal (m.Tasks.Asr, m.Tasks.Speaker) (0.8, 0.2) "task weights"
                Expect.equal (paperLateFusion.Hidden, paperLateFusion.Layers, paperLateFusion.FusionDim) (200, 2, 100) "late fusion"
                Expect.floatClose Accuracy.high equalModalities.Video (1.0 / 3.0) "fine-tuning uses equal weights"
            }
        ]
