// A full-page PNG of a local HTML page taken by headless Chromium, offline, once its plots are drawn: e.g. the main
// job's index page for the README (docs/images/index.png), made from a tiny main-job run:
//
//   dotnet fsi scripts/reproduce.fsx -- --corpus tiny --seeds 1 --pretrain-steps 20 --finetune-steps 12 --data data/tiny --runs runs/tiny --tables runs/tiny/tables
//   dotnet fsi scripts/screenshot.fsx -- --page runs/tiny/tables/index.html --out docs/images/index.png
//
// usage: dotnet fsi scripts/screenshot.fsx -- --page PAGE.html --out PNG [--width 1280]
// help: dotnet fsi scripts/screenshot.fsx -- --help
//
// F# Interactive reads the #r lines below before it runs anything, so the build must exist first: any script makes
// it (e.g. dotnet fsi scripts/reproduce.fsx -- --help), or dotnet build Research.sln -c Release.
#load "Research.fsx"
#r "../artifacts/bin/Experiments.FSharp/release/Model.CSharp.dll"
#r "../artifacts/bin/Experiments.FSharp/release/Experiments.FSharp.dll"

open Research.Experiments

let argv = Research.scriptArgs ()

if Cli.wantsHelp argv then
    printfn "%s" Screenshot.usage
    exit 0

try
    exit (Screenshot.main argv)
with Cli.UsageError message ->
    eprintfn "%s\n%s" message Screenshot.usage
    exit 2
