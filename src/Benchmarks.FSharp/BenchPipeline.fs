/// The main job end to end (issue #13): the default job on the existing demo corpus and stores (generated when absent)
/// with an empty runs folder, so every model trains; its stage timings (timings.json) recorded beside matmul-ceiling
/// samples taken just before and just after it, in the same process. Not in the default parts (it takes the main
/// job's time): `bench.fsx --parts pipeline`.
module Research.Benchmarks.BenchPipeline

open System.IO
open System.Text.Json.Nodes
open Research.Experiments
open Research.Benchmarks.BenchStats

/// Where the part's runs and tables go (both emptied first), under benchmarks/.
let folder (root: string) =
    Path.Combine(root, "benchmarks", "pipeline")

/// Runs the main job and returns {"timings": timings.json, "ceiling_before"/"ceiling_after": GFLOP/s samples}.
let measure (root: string) (ceiling: BenchStep.Ceiling) (ceilingRepeats: int) =
    let out = folder root

    if Directory.Exists out then
        Directory.Delete(out, true)

    let before = List.init ceilingRepeats (fun _ -> ceiling.Sample())

    let data = Path.Combine(root, Reproduce.defaults.Data)
    let runs = Path.Combine(out, "runs")
    let tables = Path.Combine(out, "tables")

    let job =
        { Reproduce.defaults with
            Data = data
            Runs = runs
            Tables = tables
            // The second process of the job (Processes 2) is started with these arguments: the same folders.
            Argv = [ "--data"; data; "--runs"; runs; "--tables"; tables ]
            Command = "dotnet fsi scripts/bench.fsx -- --parts pipeline"
        }

    Reproduce.run job |> ignore
    let after = List.init ceilingRepeats (fun _ -> ceiling.Sample())

    let timings =
        JsonNode.Parse(File.ReadAllText(Path.Combine(job.Tables, Stages.timingsFile)))

    JsonObject(
        dict
            [
                "what",
                JsonValue.Create
                    "the main job (dotnet fsi scripts/reproduce.fsx defaults) on the existing demo corpus, runs/ empty; per stage wall, CPU (with waited-for tools), load, CPU stall"
                :> JsonNode
                "timings", timings
                "ceiling_before", sampleJson "ceiling" before
                "ceiling_after", sampleJson "ceiling" after
            ]
    )
