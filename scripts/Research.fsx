// Shared by every script in this folder (#load "Research.fsx"). It holds no research logic: it builds the
// solution when its sources changed, then runs a command of src/Commands.FSharp (or, for the bench scripts, of
// src/Benchmarks.FSharp) in an assembly load context of its own, so the library runs on the packages pinned in
// Directory.Build.props (FSharp.Core, TorchSharp and its native libraries) rather than on those of F# Interactive.
module Research

open System
open System.Diagnostics
open System.IO
open System.Reflection
open System.Runtime.Loader

/// The repository root.
let root = Path.GetFullPath(Path.Combine(__SOURCE_DIRECTORY__, ".."))

let private solution = Path.Combine(root, "Research.sln")
let private binRoot = Path.Combine(root, "artifacts", "bin")
let private stamp = Path.Combine(binRoot, ".built")

/// The built output folder of a project (Release).
let outputOf (project: string) =
    Path.Combine(binRoot, project, "release")

/// Runs a program with the console inherited; returns its exit code.
let exec (program: string) (args: string list) : int =
    let info =
        ProcessStartInfo(program, args, WorkingDirectory = root, UseShellExecute = false)

    use p = Process.Start info
    p.WaitForExit()
    p.ExitCode

/// Runs a program whose standard output is passed on to our standard error (so set-up chatter never mixes with
/// what an entry point prints on stdout, e.g. JSON); returns its exit code.
let execQuiet (program: string) (args: string list) : int =
    let info =
        ProcessStartInfo(program, args, WorkingDirectory = root, UseShellExecute = false, RedirectStandardOutput = true)

    use p = Process.Start info

    p.OutputDataReceived.Add(fun e ->
        if not (isNull e.Data) then
            eprintfn "%s" e.Data)

    p.BeginOutputReadLine()
    p.WaitForExit()
    p.ExitCode

/// Runs a program and fails with its name and exit code unless it succeeds.
let execOrFail (program: string) (args: string list) =
    let code = exec program args

    if code <> 0 then
        failwithf "'%s %s' failed with exit code %d" program (String.concat " " args) code

/// Debian packages that are not installed, by dpkg's own account.
let missingDebianPackages (packages: string list) =
    packages
    |> List.filter (fun p ->
        let info =
            ProcessStartInfo("dpkg-query", [ "-W"; "-f=${Status}"; p ], RedirectStandardOutput = true, RedirectStandardError = true)

        try
            use q = Process.Start info
            let status = q.StandardOutput.ReadToEnd()
            q.WaitForExit()
            not (status.Contains "install ok installed")
        with _ ->
            true)

/// Installs the Debian packages that are missing: with apt-get when running as root, otherwise fails with
/// the exact command to run. Quick when everything is already there (one dpkg-query per package).
let requireDebian (why: string) (packages: string list) =
    match missingDebianPackages packages with
    | [] -> ()
    | missing ->
        let line =
            "apt-get update && apt-get install -y --no-install-recommends "
            + String.concat " " missing

        if Environment.UserName = "root" then
            eprintfn "installing Debian packages for %s: %s" why (String.concat " " missing)

            let code =
                execQuiet "bash" [ "-c"; "export DEBIAN_FRONTEND=noninteractive; " + line ]

            if code <> 0 then
                failwithf "installing %s failed (exit code %d); try: sudo %s" (String.concat " " missing) code line
        else
            failwithf "%s needs Debian packages %s; as root, run: sudo %s" why (String.concat ", " missing) line

let private inputsOfBuild () =
    let sources =
        [ "src"; "tests" ]
        |> List.map (fun d -> Path.Combine(root, d))
        |> List.filter Directory.Exists
        |> List.collect (fun d -> Directory.EnumerateFiles(d, "*", SearchOption.AllDirectories) |> List.ofSeq)
        |> List.filter (fun f ->
            let sep = string Path.DirectorySeparatorChar
            not (f.Contains(sep + "obj" + sep) || f.Contains(sep + "bin" + sep)))

    [ "Directory.Build.props"; "global.json"; "Research.sln" ]
    |> List.map (fun f -> Path.Combine(root, f))
    |> List.append sources
    |> List.filter File.Exists

/// Builds the solution (Release) unless nothing under src/ or tests/ changed since the last build.
let ensureBuilt () =
    let upToDate =
        File.Exists stamp
        && (let built = File.GetLastWriteTimeUtc stamp
            inputsOfBuild () |> List.forall (fun f -> File.GetLastWriteTimeUtc f <= built))

    if not upToDate then
        eprintfn "building: dotnet build Research.sln -c Release (restores NuGet packages on first use) ..."
        let clock = Stopwatch.StartNew()

        let code =
            execQuiet
                "dotnet"
                [
                    "build"
                    solution
                    "-c"
                    "Release"
                    "--nologo"
                    "-v"
                    "quiet"
                    "-clp:ErrorsOnly;Summary"
                ]

        if code <> 0 then
            failwithf "the build failed (exit code %d): see the errors above" code

        Directory.CreateDirectory binRoot |> ignore
        File.WriteAllText(stamp, DateTime.UtcNow.ToString "o")
        eprintfn "built in %.0f s" clock.Elapsed.TotalSeconds

/// Loads an assembly and its dependencies (managed and native) as its deps.json describes them.
type private LibraryContext(mainAssembly: string) as this =
    inherit AssemblyLoadContext("research", false)
    let resolver = AssemblyDependencyResolver(mainAssembly)

    override _.Load(name: AssemblyName) =
        match resolver.ResolveAssemblyToPath name with
        | null -> null
        | path -> this.LoadFromAssemblyPath path

    override _.LoadUnmanagedDll(name: string) =
        match resolver.ResolveUnmanagedDllToPath name with
        | null -> IntPtr.Zero
        | path -> this.LoadUnmanagedDllFromPath path

/// The script's own arguments (after the script name; a leading "--" is dropped).
let scriptArgs () =
    match fsi.CommandLineArgs |> Array.toList with
    | _ :: "--" :: rest
    | _ :: rest -> Array.ofList rest
    | [] -> [||]

/// An assembly whose commands the scripts run: its project (named as its build output folder) and its Entry type,
/// which has `static Run(command: string, argv: string array) : int`.
type Library = { Project: string; Entry: string }

/// The science's commands (src/Commands.FSharp).
let commands =
    {
        Project = "Commands.FSharp"
        Entry = "Research.Commands.Entry"
    }

/// The benchmarks (src/Benchmarks.FSharp).
let benchmarks =
    {
        Project = "Benchmarks.FSharp"
        Entry = "Research.Benchmarks.Entry"
    }

/// Builds if needed, then runs command `command` of the library's Entry in a load context of its own; returns its
/// exit code. Errors print their message (the whole exception with RESEARCH_DEBUG=1) and give exit code 1.
let runEntryOf (library: Library) (command: string) (argv: string array) : int =
    ensureBuilt ()
    let dll = Path.Combine(outputOf library.Project, library.Project + ".dll")
    let context = LibraryContext dll

    let entry = context.LoadFromAssemblyPath(dll).GetType(library.Entry, true)

    try
        entry.GetMethod("Run").Invoke(null, [| box command; box argv |]) :?> int
    with :? TargetInvocationException as e ->
        let inner = e.InnerException

        if Environment.GetEnvironmentVariable "RESEARCH_DEBUG" = "1" then
            eprintfn "%O" inner
        else
            eprintfn "error: %s (%s; RESEARCH_DEBUG=1 shows the stack)" inner.Message (inner.GetType().Name)

        1

/// Runs a command of the science (see runEntryOf): reproduce, pretrain, finetune, baseline, evaluate, embed,
/// features, mosei, voxceleb.
let runEntry (command: string) (argv: string array) : int = runEntryOf commands command argv

/// Runs a benchmark (see runEntryOf): bench, bench-lfbe, bench-step, smoke.
let runBenchmark (command: string) (argv: string array) : int = runEntryOf benchmarks command argv
